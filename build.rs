//! Build-time facts for the test suite: whether Debian's Ceph packages are installed. The
//! end-to-end tests of the central store (tests/it/central.rs) run a real one-node Ceph
//! cluster; without the packages they are marked ignored, with the reason, in the test
//! runner's count. Under CI (`CI` set) they are never ignored: a missing Ceph fails them.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(evidock_no_ceph)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    // EVIDOCK_NO_CEPH=1 behaves as if Ceph were missing (to see the skip on a machine that has it).
    println!("cargo::rerun-if-env-changed=EVIDOCK_NO_CEPH");
    // The folder's time changes when a package adds or removes a program.
    println!("cargo::rerun-if-changed=/usr/bin");
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    let programs = ["ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph-authtool", "ceph"];
    let installed = programs.iter().all(|p| std::path::Path::new("/usr/bin").join(p).exists())
        && std::env::var_os("EVIDOCK_NO_CEPH").is_none_or(|v| v.is_empty() || v == "0");
    if !installed && !ci {
        println!("cargo::rustc-cfg=evidock_no_ceph");
    }
}
