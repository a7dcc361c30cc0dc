//! Links the system image named by SEL4_SYSTEM_IMAGE (made by sel4-sysinit) into the root task.
fn main() {
    println!("cargo:rerun-if-env-changed=SEL4_SYSTEM_IMAGE");
    let path = std::env::var("SEL4_SYSTEM_IMAGE")
        .expect("SEL4_SYSTEM_IMAGE must name the system image (platforms/sel4/build sets it)");
    println!("cargo:rerun-if-changed={path}");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("system.img");
    std::fs::copy(&path, &out).unwrap_or_else(|e| panic!("{path}: {e}"));
}
