//! A 16550 UART (the PC's COM ports), interrupt-driven, as the serial PD drives it.

use crate::Console;

/// The UART's eight I/O ports, as offsets from its base.
pub trait Ports {
    /// Reads the register at `offset`; a refused read returns 0 ("nothing there").
    fn read(&self, offset: u16) -> u8;
    /// Writes the register at `offset`; a refused write is ignored.
    fn write(&self, offset: u16, value: u8);
}

// 16550 registers (offsets from the base port) and bits, named as in the datasheet.
const RBR_THR: u16 = 0;
const IER: u16 = 1;
const IIR: u16 = 2;
const MCR: u16 = 4;
const LSR: u16 = 5;
const IER_ERBFI: u8 = 1 << 0;
const IER_ETBEI: u8 = 1 << 1;
const IIR_NO_INTERRUPT: u8 = 1 << 0;
/// DTR, RTS and OUT2: OUT2 gates the UART's interrupt onto the ISA line on PC hardware.
const MCR_DTR_RTS_OUT2: u8 = 0x0b;
const LSR_DR: u8 = 1 << 0;
const LSR_THRE: u8 = 1 << 5;
/// The transmit FIFO's depth.
pub const TX_FIFO: usize = 16;
/// Bound on interrupt causes served per event (a stuck UART must not hold the CPU).
const MAX_IIR_ROUNDS: usize = 64;
/// Bound on input bytes taken per event.
const MAX_INPUT_BYTES: usize = 256;

/// A 16550 on `P`, feeding a [`Console`].
pub struct Uart16550<P: Ports> {
    ports: P,
    /// The interrupt enable register's value (kept to write it only on change).
    ier: u8,
}

impl<P: Ports> Uart16550<P> {
    /// Takes the UART: modem control lines up (and its interrupt onto the bus), the
    /// receive-data interrupt on.
    pub fn new(ports: P) -> Self {
        ports.write(MCR, MCR_DTR_RTS_OUT2);
        ports.write(IER, IER_ERBFI);
        Self { ports, ier: IER_ERBFI }
    }

    /// Serves every pending cause until the UART says none is left (so its interrupt line drops
    /// and the next cause makes a new edge): typed bytes to the console, the console's output
    /// to the transmit FIFO.
    pub fn service(&mut self, console: &mut Console) {
        for _ in 0..MAX_IIR_ROUNDS {
            self.receive(console);
            self.transmit(console);
            if self.ports.read(IIR) & IIR_NO_INTERRUPT != 0 {
                break;
            }
        }
    }

    fn receive(&mut self, console: &mut Console) {
        for _ in 0..MAX_INPUT_BYTES {
            if self.ports.read(LSR) & LSR_DR == 0 {
                break;
            }
            console.input(self.ports.read(RBR_THR));
        }
    }

    /// Fills the transmit FIFO from the output queue and asks for the transmit-empty interrupt
    /// while output is left.
    fn transmit(&mut self, console: &mut Console) {
        if self.ports.read(LSR) & LSR_THRE != 0 {
            for _ in 0..TX_FIFO {
                let Some(b) = console.next_output() else { break };
                self.ports.write(RBR_THR, b);
            }
        }
        let ier = if console.has_output() { IER_ERBFI | IER_ETBEI } else { IER_ERBFI };
        if ier != self.ier {
            self.ier = ier;
            self.ports.write(IER, ier);
        }
    }
}
