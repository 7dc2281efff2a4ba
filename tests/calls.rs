//! callcert against the reference call center in-process: TCP, digest authentication, early
//! media, faults and the trunk limit, each checked against what the call center was told to do.

mod common;

use callcert::cli::build_plan;
use callcert::engine::{record::FailureKind, RunResult};
use callcert::media::AudioSource;
use callcert::scenario::parse_scenario;
use callcert::sip::dialog::TransportKind;
use callcert::sut::{self, config::*, SutHandle};
use std::collections::BTreeMap;
use std::time::Duration;

async fn start(cfg: SutConfig) -> SutHandle {
    let welcome = common::root().join("scenarios/prompts/welcome.wav");
    sut::serve(cfg, AudioSource::from_wav(welcome).unwrap())
        .await
        .unwrap()
}

fn base() -> SutConfig {
    SutConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ring_delay: Duration::from_millis(20),
        answer_delay: Duration::from_millis(30),
        ..SutConfig::default()
    }
}

async fn run(sut: &SutHandle, yaml: &str) -> RunResult {
    let path = common::root().join("scenarios/inline-test.yaml");
    let scn = parse_scenario(yaml, &path).unwrap_or_else(|e| panic!("{e}"));
    let scheme = if scn.transport == TransportKind::Tcp {
        ";transport=tcp"
    } else {
        ""
    };
    let target = format!("sip:ivr@{}{scheme}", sut.local_addr);
    let plan = build_plan(&scn, Some(&target), None, None).await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), callcert::engine::run(plan, None))
        .await
        .expect("run ends")
        .unwrap()
}

fn failures(r: &RunResult) -> BTreeMap<FailureKind, u64> {
    r.metrics.failures.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_over_tcp_reuse_one_connection() {
    let sut = start(SutConfig {
        transport: TransportKind::Tcp,
        ..base()
    })
    .await;
    let r = run(
        &sut,
        "name: tcp\ntarget: sip:x@127.0.0.1\ntransport: tcp\ncalls: 20\nrate: 200\ncall:\n  hold: 1s\n",
    )
    .await;
    assert_eq!(r.metrics.succeeded, 20, "{:#?}", r.failed_calls.first());
    assert_eq!(r.metrics.retransmissions_sent, 0);
    // The call center counts a hangup once its 200 to the BYE has gone out, which can be a
    // moment after the caller has its answer and the run has ended.
    for _ in 0..200 {
        if sut.stats().caller_hangups >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let s = sut.stats();
    assert_eq!(s.answered, 20);
    assert_eq!(s.caller_hangups, 20);
    assert_eq!(s.tcp_connections, 1, "one connection carries every call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_authentication_end_to_end() {
    let users = BTreeMap::from([("alice".to_string(), "s3cret".to_string())]);
    let sut = start(SutConfig {
        auth: Some(SutAuth::new("callcert", users)),
        ..base()
    })
    .await;
    let ok = run(
        &sut,
        "name: auth\ntarget: sip:x@127.0.0.1\ncalls: 5\nrate: 20\n\
         credentials: { username: alice, password: s3cret }\ncall:\n  hold: 500ms\n",
    )
    .await;
    assert_eq!(ok.metrics.succeeded, 5, "{:#?}", ok.failed_calls.first());
    let bad = run(
        &sut,
        "name: auth-bad\ntarget: sip:x@127.0.0.1\ncalls: 3\nrate: 20\n\
         credentials: { username: alice, password: wrong }\ncall:\n  hold: 500ms\n",
    )
    .await;
    assert_eq!(bad.metrics.failed(), 3);
    assert_eq!(
        bad.metrics.sip_codes.get(&403),
        Some(&3),
        "{:?} {:#?}",
        bad.metrics.sip_codes,
        bad.failed_calls.first()
    );
    let none = run(
        &sut,
        "name: auth-none\ntarget: sip:x@127.0.0.1\ncalls: 2\nrate: 20\ncall:\n  hold: 500ms\n",
    )
    .await;
    assert_eq!(none.metrics.sip_codes.get(&401), Some(&2));
    assert_eq!(sut.stats().challenged, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_media_183_gives_voice_before_the_answer() {
    let sut = start(SutConfig {
        early_media: true,
        ring_delay: Duration::from_millis(50),
        answer_delay: Duration::from_millis(1500),
        ..base()
    })
    .await;
    let r = run(
        &sut,
        "name: early\ntarget: sip:x@127.0.0.1\ncalls: 5\nrate: 20\ncall:\n  hold: 500ms\n",
    )
    .await;
    assert_eq!(r.metrics.succeeded, 5, "{:#?}", r.failed_calls.first());
    let pdd = r.metrics.post_dial_delay.summary().unwrap();
    let voice = r.metrics.connect_delay.summary().unwrap();
    let setup = r.metrics.setup_time.summary().unwrap();
    assert!((pdd.mean_ms - 50.0).abs() < 2.0, "{pdd:?}");
    // The prompt starts with the 183: voice at 50 ms + 100 ms of leading silence, long before
    // the 200 OK at 1550 ms.
    assert!((voice.mean_ms - 150.0).abs() < 20.0, "{voice:?}");
    assert!(setup.mean_ms > 1500.0, "{setup:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_become_failed_records_with_reasons() {
    let sut = start(SutConfig {
        faults: Faults {
            reject: Some(RejectFault {
                rate: 0.3,
                code: 486,
            }),
            no_answer: Some(NoAnswerFault { rate: 0.2 }),
            drop_after: None,
        },
        seed: 11,
        ..base()
    })
    .await;
    let r = run(
        &sut,
        "name: faults\ntarget: sip:x@127.0.0.1\ncalls: 40\nrate: 40\ncall:\n  hold: 300ms\n  answer_timeout: 1s\n",
    )
    .await;
    let s = sut.stats();
    let f = failures(&r);
    assert_eq!(r.metrics.attempted, 40);
    assert_eq!(
        f.get(&FailureKind::SipError).copied(),
        Some(s.fault_rejected)
    );
    assert_eq!(
        r.metrics.sip_codes.get(&486).copied(),
        Some(s.fault_rejected)
    );
    assert_eq!(
        f.get(&FailureKind::NoAnswer).copied(),
        Some(s.fault_no_answer)
    );
    assert_eq!(
        s.cancelled, s.fault_no_answer,
        "every unanswered call was CANCELled"
    );
    assert_eq!(r.metrics.succeeded, s.answered);
    assert!(s.fault_rejected > 3 && s.fault_no_answer > 2, "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_trunks_get_503_counted_on_both_sides() {
    let sut = start(SutConfig {
        trunks: 5,
        ..base()
    })
    .await;
    let r = run(
        &sut,
        "name: busy\ntarget: sip:x@127.0.0.1\ncalls: 30\nrate: 50\ncall:\n  hold: 2s\n",
    )
    .await;
    let s = sut.stats();
    assert_eq!(s.max_active, 5);
    assert!(s.busy_503 >= 20, "{s:?}");
    assert_eq!(r.metrics.sip_codes.get(&503).copied(), Some(s.busy_503));
    assert_eq!(r.metrics.succeeded, s.answered);
    let rec = r
        .failed_calls
        .iter()
        .find(|c| c.final_code == Some(503))
        .unwrap();
    assert!(rec.failure.as_ref().unwrap().detail.starts_with("503"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_after_is_a_remote_hangup_and_still_a_success() {
    let sut = start(SutConfig {
        faults: Faults {
            drop_after: Some(DropAfterFault {
                rate: 1.0,
                after: Duration::from_millis(400),
            }),
            ..Faults::default()
        },
        ..base()
    })
    .await;
    let r = run(
        &sut,
        "name: drop\ntarget: sip:x@127.0.0.1\ncalls: 4\nrate: 20\ncall:\n  hold: 5s\n",
    )
    .await;
    // The caller's run ends when it has answered the BYE; the call center counts its hang-up
    // when that 200 OK arrives, a moment later.
    let settled = tokio::time::timeout(Duration::from_secs(5), async {
        while sut.stats().sut_hangups < 4 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(settled.is_ok(), "{:?}", sut.stats());
    assert_eq!(sut.stats().fault_dropped, 4);
    assert_eq!(r.metrics.attempted, 4);
    // The call center hung up before the caller meant to: the records say who sent BYE.
    assert!(r.metrics.succeeded == 4, "{:#?}", r.failed_calls.first());
}
