//! Records the git commit the binary is built from, for `oxidesk --version`.

use std::process::Command;

fn main() {
    let commit = std::env::var("OXIDESK_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=OXIDESK_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-env-changed=OXIDESK_GIT_COMMIT");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
