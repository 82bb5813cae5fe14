//! Delivery: retries, permanent failures, crashes, transports.

use std::time::{Duration, Instant};

use oxidesk::mail::send::transport::Transport;
use oxidesk::mail::send::worker;
use oxidesk::store;

use super::harness::*;

#[test]
fn server_down_keeps_the_mail_and_delivers_it_once_when_back() {
    if !have_sink() {
        return;
    }
    let port = free_port();
    let env = Env::new(port);
    new_ticket(env.pipe(&customer_mail(
        "Dana <dana@customer.example>",
        "down@customer.example",
        "Down",
        "",
    )));
    // Nothing listens on the port: a temporary failure, retried later.
    let s = env.deliver();
    assert_eq!((s.sent, s.retrying, s.failed), (0, 1, 0));
    let (state, attempts, next, answer): (String, i64, i64, String) = env
        .conn()
        .query_row(
            "SELECT state, attempts, next_attempt_at, last_answer FROM outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!((state.as_str(), attempts), ("queued", 1));
    assert!(next >= store::now() + 55, "backoff of about a minute");
    assert!(!answer.is_empty());

    let sink = Sink::start(port, &env.dir.path().join("sink"), &[]);
    // Not due yet: the backoff is respected.
    assert_eq!(env.deliver().sent, 0);
    env.conn()
        .execute("UPDATE outbox SET next_attempt_at = ?1", [store::now()])
        .unwrap();
    assert_eq!(env.deliver().sent, 1);
    assert_eq!(env.deliver().sent, 0);
    assert_eq!(sink.wait_for(1).len(), 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sink.messages().len(), 1, "delivered exactly once");
    assert_eq!(env.outbox("auto_response")[0].1, "sent");
}

#[test]
fn permanent_refusal_stops_shows_the_answer_and_can_be_retried() {
    if !have_sink() {
        return;
    }
    let port = free_port();
    let env = Env::new(port);
    let sink = Sink::start(
        port,
        &env.dir.path().join("sink"),
        &["-f", "RCPT", "-B", "550 5.1.1 No such user here"],
    );
    new_ticket(env.pipe(&customer_mail(
        "Gone <gone@customer.example>",
        "gone@customer.example",
        "Bye",
        "",
    )));
    let s = env.deliver();
    assert_eq!((s.sent, s.failed), (0, 1));
    let out = env
        .bin()
        .args(["outbox", "list", "--state", "failed"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(listing.contains("gone@customer.example"), "{listing}");
    assert!(
        listing.contains("550"),
        "the server's answer is shown: {listing}"
    );
    assert!(listing.contains("No such user here"), "{listing}");
    // Not retried by later runs.
    assert_eq!(env.deliver().failed, 0);
    drop(sink);

    // The admin fixes the problem and queues it again.
    let _sink = Sink::start(port, &env.dir.path().join("sink2"), &[]);
    let id = env.outbox("auto_response")[0].0;
    let out = env
        .bin()
        .args(["outbox", "retry", &id.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.bin().args(["outbox", "run"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 sent"));
    assert_eq!(env.outbox("auto_response")[0].1, "sent");
    // A sent message is never queued again.
    let out = env
        .bin()
        .args(["outbox", "retry", &id.to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already sent"));
}

#[test]
fn a_worker_killed_mid_delivery_loses_nothing() {
    if !have_sink() {
        return;
    }
    let port = free_port();
    let env = Env::new(port);
    new_ticket(env.pipe(&customer_mail(
        "Dana <dana@customer.example>",
        "kill@customer.example",
        "Killed",
        "",
    )));
    // A sink that takes its time answering DATA: the worker is mid-delivery.
    let slow = Sink::start(port, &env.dir.path().join("slow"), &["-w", "30"]);
    let mut worker = env.bin().args(["outbox", "run"]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = &env.outbox("auto_response")[0].1;
        if state == "sending" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the worker never claimed the mail"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    worker.kill().unwrap(); // SIGKILL
    worker.wait().unwrap();
    drop(slow);
    assert_eq!(env.outbox("auto_response")[0].1, "sending");

    let sink = Sink::start(port, &env.dir.path().join("sink"), &[]);
    // The dead worker's lease still holds: nobody sends it yet.
    assert_eq!(env.deliver().sent, 0);
    // Once the lease expires, it is delivered, once.
    env.conn()
        .execute("UPDATE outbox SET lease_until = ?1", [store::now() - 1])
        .unwrap();
    assert_eq!(env.deliver().sent, 1);
    assert_eq!(env.deliver().sent, 0);
    assert_eq!(sink.wait_for(1).len(), 1);
    assert_eq!(env.outbox("auto_response")[0].1, "sent");
}

#[test]
fn the_serve_worker_delivers_and_stops_gracefully() {
    if !have_sink() {
        return;
    }
    let port = free_port();
    let env = Env::new(port);
    let sink = Sink::start(port, &env.dir.path().join("sink"), &[]);
    let mut config = env.config.clone();
    config.smtp.poll_seconds = 1;
    let handle = worker::spawn(env.store.clone(), config);
    new_ticket(env.pipe(&customer_mail(
        "Dana <dana@customer.example>",
        "worker@customer.example",
        "Worker",
        "",
    )));
    handle.wake();
    let deadline = Instant::now() + Duration::from_secs(15);
    while env.outbox("auto_response")[0].1 != "sent" {
        assert!(Instant::now() < deadline, "the worker did not deliver");
        std::thread::sleep(Duration::from_millis(50));
    }
    handle.stop();
    assert_eq!(sink.wait_for(1).len(), 1);
}

#[test]
fn sendmail_transport_hands_the_message_to_the_binary() {
    configure();
    let env = Env::new(1);
    let out = env.dir.path().join("sendmail-out");
    std::fs::create_dir_all(&out).unwrap();
    let script = env.dir.path().join("sendmail");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" > {0}/args\ncat > {0}/message\nexit ${{SENDMAIL_EXIT:-0}}\n",
            out.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();

    let mut config = env.config.clone();
    config.smtp.transport = "sendmail".into();
    config.smtp.sendmail_path = script.display().to_string();
    let transport = Transport::from_config(&config.smtp).unwrap();
    let (_, number) = new_ticket(env.pipe(&customer_mail(
        "Dana <dana@customer.example>",
        "sendmail@customer.example",
        "Via sendmail",
        "",
    )));
    let s = worker::run_due(&env.store, &config, &transport, &|| false).unwrap();
    assert_eq!(s.sent, 1);
    let message = std::fs::read_to_string(out.join("message")).unwrap();
    assert!(
        message.contains(&format!("Subject: [#{number}] Via sendmail")),
        "{message}"
    );
    let args = std::fs::read_to_string(out.join("args")).unwrap();
    assert!(args.contains("dana@customer.example"), "{args}");
    assert!(args.contains(OUR_ADDRESS), "envelope sender: {args}");
}

#[test]
fn starttls_required_never_falls_back_to_clear_text() {
    if !have_sink() {
        return;
    }
    let port = free_port();
    let mut env = Env::new(port);
    // smtp-sink offers no STARTTLS: the mail must wait, not go out in clear.
    let sink = Sink::start(port, &env.dir.path().join("sink"), &[]);
    env.config.smtp.security = "starttls".into();
    new_ticket(env.pipe(&customer_mail(
        "Dana <dana@customer.example>",
        "tls@customer.example",
        "TLS",
        "",
    )));
    let s = env.deliver();
    assert_eq!((s.sent, s.retrying), (0, 1));
    assert!(sink.messages().is_empty());
    let answer: String = env
        .conn()
        .query_row("SELECT last_answer FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert!(!answer.is_empty());
}

#[test]
fn a_claimed_message_belongs_to_one_worker() {
    configure();
    let env = Env::new(1);
    new_ticket(env.pipe(&customer_mail(
        "Dana <dana@customer.example>",
        "claim@customer.example",
        "Claim",
        "",
    )));
    let (a, b) = (env.conn(), env.conn());
    let now = store::now();
    let first = store::outbox::claim_next(&a, now, 300, "worker-a").unwrap();
    let first = first.expect("the first worker claims it");
    assert!(store::outbox::claim_next(&b, now, 300, "worker-b")
        .unwrap()
        .is_none());
    // Only the holder of the claim can record the outcome.
    assert!(!store::outbox::mark_sent(&b, first.id, "worker-b", "250 ok").unwrap());
    assert!(store::outbox::mark_sent(&a, first.id, "worker-a", "250 ok").unwrap());
    // A sent message is never claimed again, even long after.
    assert!(
        store::outbox::claim_next(&b, now + 10 * 86400, 300, "worker-b")
            .unwrap()
            .is_none()
    );
}

#[test]
fn outbox_test_sends_at_once_and_reports_the_answer() {
    if !have_sink() {
        return;
    }
    let port = free_port();
    let env = Env::new(port);
    let out = env
        .bin()
        .args(["outbox", "test", "admin@customer.example"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "no server yet");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("was not sent"), "{err}");

    let sink = Sink::start(port, &env.dir.path().join("sink"), &[]);
    let out = env
        .bin()
        .args(["outbox", "test", "admin@customer.example"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("250"), "{said}");
    assert_eq!(sink.wait_for(1).len(), 1);
    // Not through the outbox.
    assert!(env.outbox("test").is_empty());
}

#[test]
fn starttls_and_implicit_tls_with_login_deliver_to_a_trusted_server() {
    if !have_tls_tools() {
        return;
    }
    configure();
    let env = Env::new(1);
    let (ca, cert, key) = test_certs(&env.dir.path().join("certs"));
    for (i, mode) in ["starttls", "tls"].into_iter().enumerate() {
        let port = free_port();
        let server = TlsServer::start(port, mode, &cert, &key, &env.dir.path().join(mode));
        let mut config = env.config.clone();
        config.smtp.port = port;
        config.smtp.security = mode.into();
        config.smtp.username = "mailer".into();
        config.smtp.password = "wrong".into();
        config.smtp.tls_ca_file = ca.display().to_string();
        let (_, number) = new_ticket(env.pipe(&customer_mail(
            "Dana <dana@customer.example>",
            &format!("{mode}@customer.example"),
            &format!("Over {mode}"),
            "",
        )));
        let run = |config: &oxidesk::config::Config| {
            let t = Transport::from_config(&config.smtp).unwrap();
            worker::run_due(&env.store, config, &t, &|| false).unwrap()
        };
        // A wrong password keeps the mail queued (a configuration problem).
        let s = run(&config);
        assert_eq!((s.sent, s.retrying, s.failed), (0, 1, 0), "{mode}");
        let answer: String = env
            .conn()
            .query_row(
                "SELECT last_answer FROM outbox WHERE kind = 'auto_response' ORDER BY id DESC",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            answer.contains("smtp.password") && answer.contains("535"),
            "{answer}"
        );
        env.conn()
            .execute(
                "UPDATE outbox SET next_attempt_at = 0 WHERE state = 'queued'",
                [],
            )
            .unwrap();
        config.smtp.password = "s3cret pässword".into();
        let s = run(&config);
        assert_eq!(s.sent, 1, "{mode}");
        let got = server.messages();
        assert_eq!(got.len(), 1, "{mode}");
        assert!(
            got[0].contains(&format!("[#{number}] Over {mode}")),
            "{}",
            got[0]
        );
        assert_eq!(env.outbox("auto_response")[i].1, "sent");
    }
}

#[test]
fn an_untrusted_certificate_is_refused() {
    if !have_tls_tools() {
        return;
    }
    configure();
    let env = Env::new(1);
    let (_, cert, key) = test_certs(&env.dir.path().join("certs"));
    let port = free_port();
    let server = TlsServer::start(port, "tls", &cert, &key, &env.dir.path().join("tls"));
    let mut config = env.config.clone();
    config.smtp.port = port;
    config.smtp.security = "tls".into();
    config.smtp.username = "mailer".into();
    config.smtp.password = "s3cret pässword".into();
    new_ticket(env.pipe(&customer_mail(
        "Dana <dana@customer.example>",
        "untrusted@customer.example",
        "Untrusted",
        "",
    )));
    let t = Transport::from_config(&config.smtp).unwrap();
    let s = worker::run_due(&env.store, &config, &t, &|| false).unwrap();
    assert_eq!((s.sent, s.retrying), (0, 1));
    assert!(server.messages().is_empty());
}
