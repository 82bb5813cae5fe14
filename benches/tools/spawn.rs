//! A small, std-only process launcher for the pipe benchmark: runs one child
//! per message file, sequentially per worker, N workers at once, and reports
//! per delivery the exit code, wall time and the child's own peak RSS (from
//! wait4's rusage). A separate launcher keeps the measurement honest: a child
//! spawned from a 25 MB Python process would report Python's RSS as its own,
//! and Python's spawn overhead would blur the timings.
//!
//! Build: rustc -O -o benches/.cache/spawn benches/tools/spawn.rs
//! Usage: spawn --jobs FILE --workers N --stdin pipe|file [--retry-code 75]
//!              [--max-retries 20] [--timeout-s 60] -- COMMAND ARGS...
//! FILE has one line per message: `WORKER<TAB>PATH`. Output: one JSON object
//! per delivery attempt on stdout, then `{"total_us": ...}`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[repr(C)]
struct Rusage {
    utime: [i64; 2],
    stime: [i64; 2],
    maxrss: i64,
    rest: [i64; 13],
}

extern "C" {
    fn wait4(pid: i32, status: *mut i32, options: i32, rusage: *mut Rusage) -> i32;
    fn kill(pid: i32, sig: i32) -> i32;
}

struct Opts {
    jobs: String,
    workers: usize,
    stdin_pipe: bool,
    retry_code: i32,
    max_retries: u32,
    timeout: Duration,
    argv: Vec<String>,
}

fn parse() -> Result<Opts, String> {
    let mut args = std::env::args().skip(1);
    let mut o = Opts {
        jobs: String::new(),
        workers: 1,
        stdin_pipe: true,
        retry_code: 75,
        max_retries: 20,
        timeout: Duration::from_secs(60),
        argv: Vec::new(),
    };
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--jobs" => o.jobs = val()?,
            "--workers" => o.workers = val()?.parse().map_err(|e| format!("--workers: {e}"))?,
            "--stdin" => o.stdin_pipe = val()? == "pipe",
            "--retry-code" => o.retry_code = val()?.parse().map_err(|e| format!("{e}"))?,
            "--max-retries" => o.max_retries = val()?.parse().map_err(|e| format!("{e}"))?,
            "--timeout-s" => {
                o.timeout = Duration::from_secs(val()?.parse().map_err(|e| format!("{e}"))?)
            }
            "--" => {
                o.argv = args.by_ref().collect();
                break;
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.jobs.is_empty() || o.argv.is_empty() || o.workers == 0 {
        return Err("usage: spawn --jobs FILE --workers N --stdin pipe|file -- CMD...".into());
    }
    Ok(o)
}

/// Run one child; returns (exit code or 128+signal, wall µs, max RSS KB).
fn run_one(o: &Opts, path: &str, running: &Mutex<HashMap<i32, Instant>>) -> io::Result<(i32, u128, i64)> {
    let t0 = Instant::now();
    let mut cmd = Command::new(&o.argv[0]);
    cmd.args(&o.argv[1..]).stdout(Stdio::null());
    if o.stdin_pipe {
        cmd.stdin(Stdio::piped());
    } else {
        cmd.stdin(Stdio::from(File::open(path)?));
    }
    let mut child = cmd.spawn()?;
    let pid = child.id() as i32;
    running.lock().unwrap_or_else(|e| e.into_inner()).insert(pid, t0);
    if let Some(mut stdin) = child.stdin.take() {
        // Stream in small chunks so the launcher itself stays small.
        let mut f = File::open(path)?;
        let _ = io::copy(&mut f, &mut stdin);
    }
    let mut status = 0i32;
    let mut ru = Rusage { utime: [0; 2], stime: [0; 2], maxrss: 0, rest: [0; 13] };
    let r = unsafe { wait4(pid, &mut status, 0, &mut ru) };
    let wall = t0.elapsed().as_micros();
    running.lock().unwrap_or_else(|e| e.into_inner()).remove(&pid);
    if r != pid {
        return Err(io::Error::last_os_error());
    }
    let code = if status & 0x7f == 0 { (status >> 8) & 0xff } else { 128 + (status & 0x7f) };
    std::mem::forget(child); // already reaped
    Ok((code, wall, ru.maxrss))
}

fn main() {
    let o = match parse() {
        Ok(o) => Arc::new(o),
        Err(e) => {
            eprintln!("spawn: {e}");
            std::process::exit(64);
        }
    };
    let text = match std::fs::read_to_string(&o.jobs) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("spawn: reading {}: {e}", o.jobs);
            std::process::exit(66);
        }
    };
    let mut per_worker: Vec<Vec<(usize, String)>> = vec![Vec::new(); o.workers];
    for (i, line) in text.lines().enumerate() {
        if let Some((w, p)) = line.split_once('\t') {
            let w: usize = w.parse().unwrap_or(0) % o.workers;
            per_worker[w].push((i, p.to_string()));
        }
    }
    let out = Arc::new(Mutex::new(io::BufWriter::new(io::stdout())));
    let running: Arc<Mutex<HashMap<i32, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let done = Arc::new(Mutex::new(false));
    // Watchdog: kill a child that runs past the timeout.
    let wd = {
        let (running, done, timeout) = (running.clone(), done.clone(), o.timeout);
        thread::spawn(move || loop {
            thread::sleep(Duration::from_millis(200));
            if *done.lock().unwrap_or_else(|e| e.into_inner()) {
                break;
            }
            for (pid, t0) in running.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                if t0.elapsed() > timeout {
                    unsafe { kill(*pid, 9) };
                }
            }
        })
    };
    let t0 = Instant::now();
    let handles: Vec<_> = per_worker
        .into_iter()
        .enumerate()
        .map(|(w, jobs)| {
            let (o, out, running) = (o.clone(), out.clone(), running.clone());
            thread::spawn(move || {
                for (i, path) in jobs {
                    for attempt in 0..=o.max_retries {
                        let line = match run_one(&o, &path, &running) {
                            Ok((code, us, rss)) => {
                                let l = format!(
                                    "{{\"w\":{w},\"i\":{i},\"attempt\":{attempt},\"code\":{code},\"us\":{us},\"rss_kb\":{rss}}}\n"
                                );
                                if code == o.retry_code && attempt < o.max_retries {
                                    out.lock().unwrap_or_else(|e| e.into_inner()).write_all(l.as_bytes()).ok();
                                    thread::sleep(Duration::from_millis(20 * (attempt as u64 + 1)));
                                    continue;
                                }
                                l
                            }
                            Err(e) => format!(
                                "{{\"w\":{w},\"i\":{i},\"attempt\":{attempt},\"code\":-1,\"us\":0,\"rss_kb\":0,\"error\":\"{}\"}}\n",
                                e.to_string().replace('"', "'")
                            ),
                        };
                        out.lock().unwrap_or_else(|e| e.into_inner()).write_all(line.as_bytes()).ok();
                        break;
                    }
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let total = t0.elapsed().as_micros();
    *done.lock().unwrap_or_else(|e| e.into_inner()) = true;
    let _ = wd.join();
    let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
    let _ = writeln!(out, "{{\"total_us\":{total}}}");
    let _ = out.flush();
}
