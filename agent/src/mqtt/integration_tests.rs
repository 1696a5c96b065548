//! The MQTT client against a real Mosquitto on 127.0.0.1 (see [`super::testutil`]).
//! Timeouts here only turn a hang into a failure; nothing asserts on timing.

use super::config::{MqttConfig, Protocol, ResolvedMqtt};
use super::store::{FsyncPolicy, FullPolicy, RECORD_HEADER};
use super::testutil::{free_port, Mosquitto, TcpGate, TestCerts};
use super::{Delivery, MessageProperties, MqttEvent, MqttHandle, MqttStats, QoS, Subscription};
use std::path::Path;
use std::time::Duration;
use tokio::sync::broadcast;

const WAIT: Duration = Duration::from_secs(60);

/// Local settings with quick reconnects.
fn settings(client_id: &str, port: u16, dir: &Path) -> ResolvedMqtt {
    let mut cfg = ResolvedMqtt::local(client_id, port, &dir.join(client_id));
    cfg.reconnect_min = Duration::from_millis(100);
    cfg.reconnect_max = Duration::from_millis(500);
    cfg.keep_alive = Duration::from_secs(5);
    cfg
}

/// [`settings`] speaking `protocol`.
fn settings_for(protocol: Protocol, client_id: &str, port: u16, dir: &Path) -> ResolvedMqtt {
    let mut cfg = settings(client_id, port, dir);
    cfg.protocol = protocol;
    cfg
}

/// [`settings`] speaking MQTT 5.
fn settings5(client_id: &str, port: u16, dir: &Path) -> ResolvedMqtt {
    settings_for(Protocol::V5, client_id, port, dir)
}

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

async fn wait_stats(
    handle: &MqttHandle,
    what: &str,
    pred: impl FnMut(&MqttStats) -> bool,
) -> MqttStats {
    let mut rx = handle.watch_stats();
    let stats = within(what, rx.wait_for(pred)).await.expect("worker alive");
    *stats
}

async fn subscribe(handle: &MqttHandle, filter: &str, qos: QoS) -> Subscription {
    within(
        "SUBACK",
        handle.subscribe(filter, qos).expect("valid filter"),
    )
    .await
    .expect("subscribed")
}

async fn recv(sub: &mut Subscription) -> Delivery {
    within("a message", sub.recv())
        .await
        .expect("subscription open")
}

async fn publish(handle: &MqttHandle, topic: &str, payload: impl Into<Vec<u8>>, qos: QoS) -> u64 {
    handle
        .publish(topic, payload.into(), qos, false)
        .expect("valid publish")
        .await
        .expect("queued")
}

fn text(d: &Delivery) -> String {
    String::from_utf8_lossy(&d.payload).into_owned()
}

/// Publish/subscribe round trip at QoS 0, 1 and 2 with acknowledgements. One subscriber
/// client per QoS level: Mosquitto 2.0.11 was seen to reorder and even skip messages when one
/// client's outgoing queue mixes QoS 1 and QoS 2 (its log shows it never sent them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_with_qos_0_1_2_and_acks() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().expect("tmp");
    let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
    let mut subs = Vec::new();
    for (level, q) in qos.iter().enumerate() {
        let (client, _) =
            MqttHandle::start(settings(&format!("sub{level}"), broker.port(), dir.path()))
                .expect("start");
        let sub = subscribe(&client, &format!("data/{level}"), *q).await;
        assert_eq!(sub.granted_qos(), *q);
        subs.push((client, sub));
    }
    let (pub_client, mut events) =
        MqttHandle::start(settings("pub", broker.port(), dir.path())).expect("start");
    assert!(matches!(
        within("connect event", events.recv()).await,
        Ok(MqttEvent::Connected {
            session_present: false
        })
    ));

    for i in 0..300u32 {
        let seq = publish(
            &pub_client,
            &format!("data/{}", i % 3),
            i.to_string(),
            qos[i as usize % 3],
        )
        .await;
        assert_eq!(seq, u64::from(i) + 1, "store sequence numbers");
    }
    for (level, (client, sub)) in subs.iter_mut().enumerate() {
        for i in 0..100u32 {
            let d = recv(sub).await;
            assert_eq!(
                text(&d),
                (i * 3 + level as u32).to_string(),
                "in order at QoS {level}"
            );
            assert_eq!(
                (&*d.topic, d.qos),
                (format!("data/{level}").as_str(), qos[level])
            );
        }
        assert_eq!(client.stats().received, 100);
    }
    let (sub_client, mut sub) = subs.remove(0);
    let stats = wait_stats(&pub_client, "all acked", |s| {
        s.acked == 200 && s.inflight == 0
    })
    .await;
    assert_eq!((stats.queued, stats.sent, stats.dropped), (0, 300, 0));
    assert!(stats.connected);

    // Validation errors come back synchronously, typed for JS.
    let e = pub_client
        .publish("a/+", vec![], QoS::AtMostOnce, false)
        .err()
        .expect("wildcard rejected");
    assert_eq!(e.js_kind(), super::JsErrorKind::TypeError);
    let e = pub_client
        .publish("a", vec![0; 2 << 20], QoS::AtMostOnce, false)
        .err()
        .expect("too large");
    assert_eq!(e.js_kind(), super::JsErrorKind::RangeError);
    assert!(sub_client.subscribe("a/#/b", QoS::AtMostOnce).is_err());

    // Unsubscribe ends the local subscription at once (the broker is told asynchronously).
    let mut other = subscribe(&sub_client, "other", QoS::AtLeastOnce).await;
    sub_client.unsubscribe(sub.id()).await.expect("unsubscribe");
    assert!(within("subscription end", sub.recv()).await.is_none());
    publish(&pub_client, "data/0", "late", QoS::AtLeastOnce).await;
    publish(&pub_client, "other", "marker", QoS::AtLeastOnce).await;
    assert_eq!(text(&recv(&mut other).await), "marker");
    assert!(other.try_recv().is_none());

    pub_client.shutdown().await;
    sub_client.shutdown().await;
    for (client, _) in subs {
        client.shutdown().await;
    }
    let e = pub_client
        .publish("a", vec![], QoS::AtMostOnce, false)
        .expect("valid")
        .await
        .expect_err("closed");
    assert!(matches!(e, super::MqttError::Closed));
}

/// Publishes handed over one after the other keep that order in the queue even when their
/// acceptance is awaited concurrently (what the JS binding relies on; no broker needed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueued_publishes_keep_the_hand_over_order() {
    let dir = tempfile::tempdir().expect("tmp");
    let (client, _) = MqttHandle::start(settings("order", free_port(), dir.path())).expect("start");
    let mut accepted = Vec::new();
    for i in 0..500u32 {
        let handed = within(
            "hand-over",
            client
                .enqueue_publish("order", i.to_string().into_bytes(), QoS::AtLeastOnce, false)
                .expect("valid"),
        )
        .await
        .expect("handed over");
        accepted.push(tokio::spawn(handed));
    }
    for (i, acceptance) in accepted.into_iter().enumerate() {
        let seq = within("acceptance", acceptance)
            .await
            .expect("join")
            .expect("queued");
        assert_eq!(
            seq,
            i as u64 + 1,
            "sequence numbers follow the hand-over order"
        );
    }
    client.shutdown().await;
}

/// A queue fdatasync that hangs (an SD card busy with write-back can take seconds) holds up
/// neither sends nor acknowledgements: it runs off the worker. What is written meanwhile goes
/// with the next sync; the shutdown waits for the one running, and nothing replays after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_queue_sync_holds_up_no_publish() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().expect("tmp");
    let disk = |dir: &Path| {
        let mut cfg = settings("slow-disk", broker.port(), dir);
        cfg.store.fsync = FsyncPolicy::Batch(Duration::from_millis(20));
        cfg
    };
    let (sub_client, _) =
        MqttHandle::start(settings("slow-disk-sub", broker.port(), dir.path())).expect("start");
    let mut sub = subscribe(&sub_client, "disk", QoS::AtLeastOnce).await;
    let (client, _) = MqttHandle::start(disk(dir.path())).expect("start");
    let (mut started, release) = client.hold_syncs().await;
    publish(&client, "disk", "first", QoS::AtLeastOnce).await;
    within("a sync to start", started.recv())
        .await
        .expect("hold alive");

    for i in 0..200u32 {
        publish(&client, "disk", format!("m{i}"), QoS::AtLeastOnce).await;
    }
    let stats = wait_stats(&client, "acks while the sync hangs", |s| {
        s.acked == 201 && s.queued == 0 && s.inflight == 0
    })
    .await;
    assert!(stats.connected);
    assert_eq!(text(&recv(&mut sub).await), "first");
    for i in 0..200u32 {
        assert_eq!(text(&recv(&mut sub).await), format!("m{i}"));
    }
    assert!(started.try_recv().is_err(), "one sync at a time");

    release.send(false).expect("the sync waits");
    within(
        "the next sync, for what was written meanwhile",
        started.recv(),
    )
    .await
    .expect("hold alive");
    let stopping = tokio::spawn({
        let client = client.clone();
        async move { client.shutdown().await }
    });
    // The rest of a shutdown (offline message, DISCONNECT) takes milliseconds on loopback; this
    // one must still be waiting for the held sync.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !stopping.is_finished(),
        "the shutdown waits for the running sync"
    );
    drop(release);
    within("shutdown", stopping).await.expect("join");

    // Everything was acknowledged and the acks were written: a restart sends nothing again.
    let (client, _) = MqttHandle::start(disk(dir.path())).expect("restart");
    publish(&client, "disk", "after the restart", QoS::AtLeastOnce).await;
    assert_eq!(text(&recv(&mut sub).await), "after the restart");
    let stats = wait_stats(&client, "its ack", |s| s.acked >= 1 && s.queued == 0).await;
    assert_eq!(stats.acked, 1, "only the new message was sent");
    client.shutdown().await;
    sub_client.shutdown().await;
}

/// A queue fdatasync that fails (a broken disk) is reported as an `error` event naming the
/// fsync, the worker goes on sending, and the next sync follows. (That the next one covers
/// everything again is the store's unit test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_queue_sync_is_reported_and_the_next_one_follows() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().expect("tmp");
    let mut cfg = settings("bad-disk", broker.port(), dir.path());
    cfg.store.fsync = FsyncPolicy::Batch(Duration::from_millis(20));
    let (client, mut events) = MqttHandle::start(cfg).expect("start");
    let (mut started, release) = client.hold_syncs().await;
    publish(&client, "disk", "one", QoS::AtLeastOnce).await;
    within("a sync to start", started.recv())
        .await
        .expect("hold alive");
    release.send(true).expect("the sync waits");
    let message = next_error(&mut events).await;
    assert!(
        message.contains("fsync") && message.contains("test: the disk failed"),
        "{message}"
    );
    within("the next sync", started.recv())
        .await
        .expect("hold alive");
    release.send(false).expect("the next sync waits");
    publish(&client, "disk", "two", QoS::AtLeastOnce).await;
    let stats = wait_stats(&client, "both acked", |s| s.acked == 2 && s.queued == 0).await;
    assert!(stats.connected);
    drop(release);
    client.shutdown().await;
}

/// A message published after an idle spell is synced once, together with its ack: the batch
/// tick comes a full interval after the write, not at once (a stale tick deadline fired right
/// after the write and synced the message alone, and its ack needed a second fdatasync).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_message_after_idling_takes_one_sync_with_its_ack() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().expect("tmp");
    let every = Duration::from_millis(200);
    let mut cfg = settings("lone", broker.port(), dir.path());
    cfg.store.fsync = FsyncPolicy::Batch(every);
    let (client, _) = MqttHandle::start(cfg).expect("start");
    let (mut started, release) = client.hold_syncs().await;
    drop(release); // syncs run at once; each still announces itself on `started`
    wait_stats(&client, "connected", |s| s.connected).await;
    for round in 0..2 {
        // Idle for longer than the interval, so a free-running tick would be overdue.
        tokio::time::sleep(every * 3).await;
        publish(&client, "lone", format!("m{round}"), QoS::AtLeastOnce).await;
        wait_stats(&client, "its ack", |s| s.acked == round + 1).await;
        within("the sync", started.recv())
            .await
            .expect("hold alive");
        tokio::time::sleep(every * 3).await;
        assert!(
            started.try_recv().is_err(),
            "round {round}: one sync for the message and its ack"
        );
    }
    client.shutdown().await;
}

/// Next presence message, skipping those of the observing clients themselves.
async fn next_status(sub: &mut Subscription) -> Delivery {
    loop {
        let d = recv(sub).await;
        if !d.topic.contains("/observer/") && !d.topic.contains("/late/") {
            return d;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_online_then_will_on_abrupt_drop_and_offline_on_shutdown() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().expect("tmp");
    let (observer, _) =
        MqttHandle::start(settings("observer", broker.port(), dir.path())).expect("start");
    let mut status = subscribe(&observer, "ganglion/+/status", QoS::AtLeastOnce).await;

    let (victim, _) =
        MqttHandle::start(settings("victim", broker.port(), dir.path())).expect("start");
    let d = next_status(&mut status).await;
    assert_eq!(
        (&*d.topic, text(&d).as_str()),
        ("ganglion/victim/status", "online")
    );
    wait_stats(&victim, "victim connected", |s| s.connected).await;
    victim.crash().await; // abrupt: no DISCONNECT, the broker fires the will
    let d = next_status(&mut status).await;
    assert_eq!(
        (&*d.topic, text(&d).as_str()),
        ("ganglion/victim/status", "offline")
    );

    // Both are retained: a new subscriber sees the last state.
    let (late, _) = MqttHandle::start(settings("late", broker.port(), dir.path())).expect("start");
    let mut retained = subscribe(&late, "ganglion/victim/status", QoS::AtLeastOnce).await;
    let d = recv(&mut retained).await;
    assert!(d.retain);
    assert_eq!(text(&d), "offline");

    // Graceful shutdown says offline itself (the will is not fired on DISCONNECT).
    let (polite, _) =
        MqttHandle::start(settings("polite", broker.port(), dir.path())).expect("start");
    let d = next_status(&mut status).await;
    assert_eq!(
        (&*d.topic, text(&d).as_str()),
        ("ganglion/polite/status", "online")
    );
    polite.shutdown().await;
    let d = next_status(&mut status).await;
    assert_eq!(
        (&*d.topic, text(&d).as_str()),
        ("ganglion/polite/status", "offline")
    );
    assert!(!polite.is_connected());
    observer.shutdown().await;
    late.shutdown().await;
}

/// Stops the broker during a ~1k msg/s stream of QoS 1 publishes and restarts it. The
/// subscriber keeps a persistent session on a persistent broker; the publisher goes through a
/// [`TcpGate`] that is reopened once the subscriber is back, so the order seen is the
/// publisher's (a broker may interleave a reconnecting client's offline queue with live
/// messages). Every number must arrive, in order; replays may repeat earlier numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_stopped_mid_stream_subscriber_gets_every_number_in_order() {
    stream_across_a_broker_restart(Protocol::V311).await;
}

/// [`broker_stopped_mid_stream_subscriber_gets_every_number_in_order`] with MQTT 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_broker_stopped_mid_stream_subscriber_gets_every_number_in_order() {
    stream_across_a_broker_restart(Protocol::V5).await;
}

async fn stream_across_a_broker_restart(protocol: Protocol) {
    const TOTAL: u32 = 3000;
    const STOP_AT: u32 = 1000;
    let port = free_port();
    let broker = Mosquitto::start_on(port, true);
    let gate = std::sync::Arc::new(TcpGate::start(port).await);
    let dir = tempfile::tempdir().expect("tmp");
    let mut sub_cfg = settings_for(protocol, "stream-sub", port, dir.path());
    sub_cfg.clean_session = false; // the broker keeps our subscription across its restart
    sub_cfg.session_expiry = u32::MAX;
    let (sub_client, _) = MqttHandle::start(sub_cfg).expect("start");
    let mut sub = subscribe(&sub_client, "stream", QoS::AtLeastOnce).await;
    let (pub_client, _) = MqttHandle::start(settings_for(
        protocol,
        "stream-pub",
        gate.port(),
        dir.path(),
    ))
    .expect("start");

    let receiver = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut max: Option<u32> = None;
        while max != Some(TOTAL - 1) {
            let d = recv(&mut sub).await;
            let n: u32 = text(&d).parse().expect("number");
            seen.push(n);
            max = max.max(Some(n));
        }
        seen
    });

    let mut ticker = tokio::time::interval(Duration::from_millis(1)); // ~1k msg/s
    let mut outage = None;
    let mut broker = Some(broker);
    for i in 0..TOTAL {
        ticker.tick().await;
        if i == STOP_AT {
            let mut b = broker.take().expect("broker");
            let gate = gate.clone();
            let sub_client = sub_client.clone();
            outage = Some(tokio::spawn(async move {
                gate.close();
                let b = tokio::task::spawn_blocking(move || {
                    b.stop_graceful();
                    std::thread::sleep(Duration::from_secs(1));
                    b.restart();
                    b
                })
                .await
                .expect("restart");
                wait_stats(&sub_client, "subscriber back", |s| {
                    s.connects >= 2 && s.connected
                })
                .await;
                gate.open();
                b
            }));
        }
        publish(&pub_client, "stream", i.to_string(), QoS::AtLeastOnce).await;
    }
    let _broker = outage.expect("outage ran").await.expect("outage task");
    let seen = within("the whole stream", receiver)
        .await
        .expect("receiver");

    let mut firsts = Vec::new();
    let mut high = None;
    for &n in &seen {
        if high.is_none_or(|h| n > h) {
            firsts.push(n);
            high = Some(n);
        }
    }
    if let Some(gap) = (0..TOTAL).position(|i| firsts.get(i as usize) != Some(&i)) {
        let at = seen.iter().position(|&n| n + 1 > gap as u32).unwrap_or(0);
        panic!(
            "number {gap} missing or out of order; received around it: {:?}",
            &seen[at.saturating_sub(10)..(at + 10).min(seen.len())]
        );
    }
    tracing::info!(repeats = seen.len() - firsts.len(), "stream test");
    let stats = wait_stats(&pub_client, "all acked", |s| s.acked == u64::from(TOTAL)).await;
    assert_eq!((stats.queued, stats.inflight, stats.dropped), (0, 0, 0));
    assert!(
        stats.connects >= 2,
        "reconnected after the outage: {stats:?}"
    );
    pub_client.shutdown().await;
    sub_client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_restored_after_broker_restart() {
    let port = free_port();
    let mut broker = Mosquitto::start_on(port, false);
    let dir = tempfile::tempdir().expect("tmp");
    let (sub_client, _) =
        MqttHandle::start(settings("restore-sub", port, dir.path())).expect("start");
    let mut sub = subscribe(&sub_client, "restore/#", QoS::AtLeastOnce).await;
    let (pub_client, _) =
        MqttHandle::start(settings("restore-pub", port, dir.path())).expect("start");
    publish(&pub_client, "restore/a", "before", QoS::AtLeastOnce).await;
    assert_eq!(text(&recv(&mut sub).await), "before");
    // Acknowledged before the broker dies, so it is not replayed after the restart.
    wait_stats(&pub_client, "PUBACK", |s| s.acked == 1).await;

    // SIGKILL: the broker forgets every session and subscription.
    broker = tokio::task::spawn_blocking(move || {
        broker.restart();
        broker
    })
    .await
    .expect("restart");
    wait_stats(&sub_client, "subscriber reconnected", |s| {
        s.connects >= 2 && s.connected
    })
    .await;
    // The re-subscription is in flight after the connect: publish until one arrives.
    let got = within("a message after the restart", async {
        loop {
            publish(&pub_client, "restore/b", "after", QoS::AtLeastOnce).await;
            if let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(200), sub.recv()).await
            {
                break d;
            }
        }
    })
    .await;
    assert_eq!(text(&got), "after");
    drop(broker);
}

/// Persistent session, QoS 2, through a gate that is cut mid-stream: the session is resumed,
/// every PUBREL is answered, every number arrives (first occurrences in order), and a restarted
/// client resumes the session too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_session_qos2_across_a_cut_and_a_client_restart() {
    persistent_qos2_across_a_cut_and_a_restart(Protocol::V311).await;
}

/// [`persistent_session_qos2_across_a_cut_and_a_client_restart`] with MQTT 5 (a session that
/// never expires): the PUBRELs for every packet id on resume are answered there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_persistent_session_qos2_across_a_cut_and_a_client_restart() {
    persistent_qos2_across_a_cut_and_a_restart(Protocol::V5).await;
}

async fn persistent_qos2_across_a_cut_and_a_restart(protocol: Protocol) {
    const TOTAL: u32 = 600;
    let broker = Mosquitto::start();
    let gate = TcpGate::start(broker.port()).await;
    let dir = tempfile::tempdir().expect("tmp");
    let (sub_client, _) =
        MqttHandle::start(settings_for(protocol, "p2-sub", broker.port(), dir.path()))
            .expect("start");
    let mut sub = subscribe(&sub_client, "p2", QoS::ExactlyOnce).await;
    let mut cfg = settings_for(protocol, "p2-pub", gate.port(), dir.path());
    cfg.clean_session = false;
    cfg.session_expiry = u32::MAX;
    let (client, mut events) = MqttHandle::start(cfg.clone()).expect("start");
    assert!(matches!(
        first_connect_or_error(&mut events).await,
        MqttEvent::Connected { .. }
    ));
    for i in 0..TOTAL {
        if i == TOTAL / 3 {
            gate.close();
        }
        if i == TOTAL / 2 {
            gate.open();
        }
        publish(&client, "p2", i.to_string(), QoS::ExactlyOnce).await;
        if i % 50 == 0 {
            tokio::task::yield_now().await;
        }
    }
    let mut high: Option<u32> = None;
    while high != Some(TOTAL - 1) {
        let n: u32 = text(&recv(&mut sub).await).parse().expect("number");
        if high.is_none_or(|h| n > h) {
            assert_eq!(n, high.map_or(0, |h| h + 1), "every number, in order");
            high = Some(n);
        }
    }
    let stats = wait_stats(&client, "all completed", |s| s.acked == u64::from(TOTAL)).await;
    assert_eq!((stats.queued, stats.inflight), (0, 0));
    client.shutdown().await;

    // A restarted client resumes the session: the PUBRELs for every packet id are answered
    // and the connection carries on.
    let (client, mut events) = MqttHandle::start(cfg).expect("restart");
    assert_eq!(
        first_connect_or_error(&mut events).await,
        MqttEvent::Connected {
            session_present: true
        }
    );
    publish(&client, "p2", "after restart", QoS::ExactlyOnce).await;
    loop {
        if text(&recv(&mut sub).await) == "after restart" {
            break;
        }
    }
    wait_stats(&client, "completed", |s| s.acked == 1 && s.connected).await;
    client.shutdown().await;
    sub_client.shutdown().await;
}

fn capped(
    client_id: &str,
    port: u16,
    dir: &Path,
    records: u64,
    policy: FullPolicy,
) -> ResolvedMqtt {
    let mut cfg = settings(client_id, port, dir);
    // Every payload below is "m" + 4 digits on topic "cap": 13 fixed + 3 + 5 bytes + framing.
    cfg.store.cap_bytes = records * (RECORD_HEADER + 13 + 3 + 5);
    cfg.store.on_full = policy;
    cfg.store.fsync = FsyncPolicy::Batch(Duration::from_millis(50));
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_cap_drop_oldest_counts_exactly_and_survives_a_killed_client() {
    let port = free_port(); // no broker yet: everything stays queued
    let dir = tempfile::tempdir().expect("tmp");
    let (client, mut events) = MqttHandle::start(capped(
        "capped",
        port,
        dir.path(),
        10,
        FullPolicy::DropOldest,
    ))
    .expect("start");
    for i in 0..25u32 {
        publish(&client, "cap", format!("m{i:04}"), QoS::AtLeastOnce).await;
    }
    let stats = client.stats();
    assert_eq!(
        (stats.dropped, stats.queued, stats.connected),
        (15, 10, false)
    );
    let mut dropped_events = 0;
    while let Ok(event) = events.try_recv() {
        if let MqttEvent::Dropped { count } = event {
            dropped_events += count;
        }
    }
    assert_eq!(dropped_events, 15);
    client.crash().await; // the agent dies while the broker is away

    let _broker = Mosquitto::start_on(port, false);
    let (sub_client, _) = MqttHandle::start(settings("cap-sub", port, dir.path())).expect("start");
    let mut sub = subscribe(&sub_client, "cap", QoS::AtLeastOnce).await;
    // The restarted client replays what it had accepted, in order.
    let (client, _) = MqttHandle::start(capped(
        "capped",
        port,
        dir.path(),
        10,
        FullPolicy::DropOldest,
    ))
    .expect("restart");
    for i in 15..25u32 {
        assert_eq!(text(&recv(&mut sub).await), format!("m{i:04}"));
    }
    let stats = wait_stats(&client, "replay acked", |s| s.acked == 10).await;
    assert_eq!((stats.queued, stats.inflight, stats.dropped), (0, 0, 0));
    client.shutdown().await;
    sub_client.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_cap_reject_new_counts_exactly() {
    let port = free_port();
    let dir = tempfile::tempdir().expect("tmp");
    let (client, _) = MqttHandle::start(capped(
        "reject",
        port,
        dir.path(),
        10,
        FullPolicy::RejectNew,
    ))
    .expect("start");
    let mut refused = 0;
    for i in 0..25u32 {
        let result = client
            .publish(
                "cap",
                format!("m{i:04}").into_bytes(),
                QoS::AtLeastOnce,
                false,
            )
            .expect("valid")
            .await;
        match result {
            Ok(_) => {}
            Err(super::MqttError::Store(super::StoreError::Full { .. })) => refused += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    let stats = client.stats();
    assert_eq!(
        (refused, stats.rejected, stats.dropped, stats.queued),
        (15, 15, 0, 10)
    );
    client.shutdown().await;

    let _broker = Mosquitto::start_on(port, false);
    let (sub_client, _) =
        MqttHandle::start(settings("reject-sub", port, dir.path())).expect("start");
    let mut sub = subscribe(&sub_client, "cap", QoS::AtLeastOnce).await;
    let (client, _) = MqttHandle::start(capped(
        "reject",
        port,
        dir.path(),
        10,
        FullPolicy::RejectNew,
    ))
    .expect("restart");
    for i in 0..10u32 {
        assert_eq!(text(&recv(&mut sub).await), format!("m{i:04}"));
    }
    wait_stats(&client, "replay acked", |s| s.acked == 10 && s.queued == 0).await;
    client.shutdown().await;
    sub_client.shutdown().await;
}

fn tls_config(
    port: u16,
    ca: &Path,
    client_cert: Option<(&Path, &Path)>,
    server_name: Option<&str>,
) -> MqttConfig {
    let mut text = format!(
        "url = \"mqtts://127.0.0.1:{port}\"\nreconnect_min = \"100ms\"\nreconnect_max = \"500ms\"\n\
         [tls]\nca_file = \"{}\"\n",
        ca.display()
    );
    if let Some((cert, key)) = client_cert {
        text += &format!(
            "cert_file = \"{}\"\nkey_file = \"{}\"\n",
            cert.display(),
            key.display()
        );
    }
    if let Some(name) = server_name {
        text += &format!("server_name = \"{name}\"\n");
    }
    toml::from_str(&text).expect("tls config parses")
}

async fn first_connect_or_error(events: &mut broadcast::Receiver<MqttEvent>) -> MqttEvent {
    loop {
        let event = within("a connection event", events.recv())
            .await
            .expect("events");
        if let MqttEvent::Connected { .. } | MqttEvent::Error { .. } = event {
            return event;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_round_trip_and_wrong_ca_refused() {
    let certs = TestCerts::generate();
    let broker = Mosquitto::start_tls(&certs, true);
    let dir = tempfile::tempdir().expect("tmp");
    let client_pair = (certs.client_cert(), certs.client_key());
    let client_pair = Some((client_pair.0.as_path(), client_pair.1.as_path()));

    // Good CA and client certificate: connects, round trip through the TLS listener.
    let cfg = tls_config(broker.tls_port(), &certs.ca(), client_pair, None)
        .resolve("tls-ok", dir.path())
        .expect("resolve");
    let (client, mut events) = MqttHandle::start(cfg).expect("start");
    assert!(matches!(
        first_connect_or_error(&mut events).await,
        MqttEvent::Connected { .. }
    ));
    let mut sub = subscribe(&client, "secure", QoS::AtLeastOnce).await;
    publish(&client, "secure", "hello over TLS", QoS::AtLeastOnce).await;
    assert_eq!(text(&recv(&mut sub).await), "hello over TLS");
    client.shutdown().await;

    // The certificate names 127.0.0.1, localhost and broker.test; a pinned server name works.
    let cfg = tls_config(
        broker.tls_port(),
        &certs.ca(),
        client_pair,
        Some("broker.test"),
    )
    .resolve("tls-name", dir.path())
    .expect("resolve");
    let (client, mut events) = MqttHandle::start(cfg).expect("start");
    assert!(matches!(
        first_connect_or_error(&mut events).await,
        MqttEvent::Connected { .. }
    ));
    client.shutdown().await;

    // Refusals: a CA that did not sign the server, a server name not in the certificate, and
    // no client certificate where the broker requires one.
    let other = TestCerts::generate();
    let cases = [
        (
            "wrong-ca",
            tls_config(broker.tls_port(), &other.ca(), client_pair, None),
        ),
        (
            "wrong-name",
            tls_config(
                broker.tls_port(),
                &certs.ca(),
                client_pair,
                Some("evil.test"),
            ),
        ),
        (
            "no-client-cert",
            tls_config(broker.tls_port(), &certs.ca(), None, None),
        ),
    ];
    for (id, cfg) in cases {
        let (client, mut events) =
            MqttHandle::start(cfg.resolve(id, dir.path()).expect("resolve")).expect("start");
        match first_connect_or_error(&mut events).await {
            MqttEvent::Error { message } => {
                if id != "no-client-cert" {
                    assert!(
                        message.contains("TLS") || message.contains("certificate"),
                        "{id}: {message}"
                    );
                }
            }
            other => panic!("{id}: expected a refusal, got {other:?}"),
        }
        assert!(!client.is_connected(), "{id}");
        assert_eq!(client.stats().connects, 0, "{id}");
        client.shutdown().await;
    }
}

fn all_properties() -> MessageProperties {
    MessageProperties {
        payload_format_utf8: Some(true),
        message_expiry: Some(3600),
        content_type: Some("application/json".into()),
        response_topic: Some("v5/replies".into()),
        correlation_data: Some(vec![0, 1, 0xfe, 0xff]),
        user_properties: vec![
            ("site".into(), "lab".into()),
            ("tag".into(), "a".into()),
            ("tag".into(), "b".into()),
        ],
        subscription_identifiers: vec![],
    }
}

async fn publish_with(
    handle: &MqttHandle,
    topic: &str,
    payload: &str,
    qos: QoS,
    properties: Option<MessageProperties>,
) -> u64 {
    handle
        .publish_with_properties(topic, payload.into(), qos, false, properties)
        .expect("valid publish")
        .await
        .expect("queued")
}

/// The next [`MqttEvent::Refused`] (other events are skipped).
async fn next_refusal(events: &mut broadcast::Receiver<MqttEvent>) -> (String, String, u8) {
    loop {
        match within("a refusal", events.recv()).await {
            Ok(MqttEvent::Refused {
                topic,
                reason,
                code,
            }) => return (topic, reason, code),
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(e) => panic!("events: {e}"),
        }
    }
}

async fn next_error(events: &mut broadcast::Receiver<MqttEvent>) -> String {
    loop {
        match within("an error event", events.recv()).await {
            Ok(MqttEvent::Error { message }) => return message,
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(e) => panic!("events: {e}"),
        }
    }
}

/// MQTT 5 at QoS 0, 1 and 2: every property arrives intact (the expiry as what is left of it),
/// QoS 1/2 are acknowledged, a message without properties has none, and bad properties are
/// refused synchronously with their JS error class.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_properties_round_trip_with_acks() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().expect("tmp");
    let (sub_client, _) =
        MqttHandle::start(settings5("v5-sub", broker.port(), dir.path())).expect("start");
    let mut sub = subscribe(&sub_client, "v5/#", QoS::AtLeastOnce).await;
    let (client, mut events) =
        MqttHandle::start(settings5("v5-pub", broker.port(), dir.path())).expect("start");
    assert!(matches!(
        first_connect_or_error(&mut events).await,
        MqttEvent::Connected { .. }
    ));
    let props = all_properties();
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        publish_with(&client, &format!("v5/{i}"), "{}", qos, Some(props.clone())).await;
    }
    publish_with(&client, "v5/plain", "x", QoS::AtLeastOnce, None).await;
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(recv(&mut sub).await);
    }
    got.sort_by(|a, b| a.topic.cmp(&b.topic));
    for d in &got[..3] {
        let p = d.properties.as_deref().expect("properties arrived");
        let expiry = p.message_expiry.expect("expiry");
        assert!((3590..=3600).contains(&expiry), "{expiry}");
        let same = MessageProperties {
            message_expiry: props.message_expiry,
            ..p.clone()
        };
        assert_eq!(same, props, "{}", d.topic);
        assert_eq!(text(d), "{}");
    }
    assert_eq!(&*got[3].topic, "v5/plain");
    assert_eq!(got[3].properties, None);
    let stats = wait_stats(&client, "acks", |s| s.acked == 3 && s.inflight == 0).await;
    assert_eq!((stats.refused, stats.expired, stats.sent), (0, 0, 4));

    let bad = |p: MessageProperties| {
        client
            .publish_with_properties("v5/x", b"\xff".to_vec(), QoS::AtMostOnce, false, Some(p))
            .err()
            .map(|e| (e.js_kind(), e.to_string()))
            .expect("refused")
    };
    let (kind, message) = bad(MessageProperties {
        response_topic: Some("a/#".into()),
        ..Default::default()
    });
    assert_eq!(kind, super::JsErrorKind::TypeError);
    assert!(message.contains("responseTopic"), "{message}");
    let (kind, message) = bad(MessageProperties {
        payload_format_utf8: Some(true),
        ..Default::default()
    });
    assert_eq!(kind, super::JsErrorKind::TypeError);
    assert!(message.contains("payloadFormatIndicator"), "{message}");
    // Properties count against the packet size limit with MQTT 5.
    let (kind, _) = bad(MessageProperties {
        user_properties: (0..20)
            .map(|i| (format!("k{i}"), "v".repeat(60_000)))
            .collect(),
        ..Default::default()
    });
    assert_eq!(kind, super::JsErrorKind::RangeError);
    client.shutdown().await;
    sub_client.shutdown().await;
}

/// MQTT 5 persistent session: a restarted client resumes it (the session expiry is sent), and
/// once the session expiry has passed while the client was away, it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_persistent_session_resumes_across_a_restart_until_it_expires() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().expect("tmp");
    let mut cfg = settings5("v5-session", broker.port(), dir.path());
    cfg.clean_session = false;
    cfg.session_expiry = 300;
    let connect = |cfg: ResolvedMqtt| async move {
        let (client, mut events) = MqttHandle::start(cfg).expect("start");
        let event = first_connect_or_error(&mut events).await;
        (client, event)
    };
    let (client, event) = connect(cfg.clone()).await;
    assert_eq!(
        event,
        MqttEvent::Connected {
            session_present: false
        }
    );
    let _sub = subscribe(&client, "v5-session/in", QoS::AtLeastOnce).await;
    client.shutdown().await;

    let (client, event) = connect(cfg.clone()).await;
    assert_eq!(
        event,
        MqttEvent::Connected {
            session_present: true
        },
        "resumed after a restart"
    );
    publish(&client, "v5-session/out", "still flowing", QoS::AtLeastOnce).await;
    wait_stats(&client, "ack", |s| s.acked == 1).await;
    client.shutdown().await;

    // This connection sets a 1 s expiry; after 3 s away the broker has dropped the session.
    cfg.session_expiry = 1;
    let (client, event) = connect(cfg.clone()).await;
    assert_eq!(
        event,
        MqttEvent::Connected {
            session_present: true
        }
    );
    client.shutdown().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (client, event) = connect(cfg).await;
    assert_eq!(
        event,
        MqttEvent::Connected {
            session_present: false
        },
        "expired while away"
    );
    client.shutdown().await;
}

/// A message whose expiry interval runs out while it waits in the queue (broker unreachable)
/// is discarded and counted; the others are delivered, in order, with what is left of theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_message_expiring_in_the_queue_is_discarded_and_counted() {
    let broker = Mosquitto::start();
    let gate = TcpGate::start(broker.port()).await;
    gate.close(); // the broker is away for the publisher
    let dir = tempfile::tempdir().expect("tmp");
    let (sub_client, _) =
        MqttHandle::start(settings5("exp-sub", broker.port(), dir.path())).expect("start");
    let mut sub = subscribe(&sub_client, "exp/#", QoS::AtLeastOnce).await;
    let (client, _) =
        MqttHandle::start(settings5("exp-pub", gate.port(), dir.path())).expect("start");
    let expiring = |seconds| {
        Some(MessageProperties {
            message_expiry: Some(seconds),
            ..Default::default()
        })
    };
    publish_with(&client, "exp/a", "first", QoS::AtLeastOnce, None).await;
    publish_with(
        &client,
        "exp/b",
        "short-lived",
        QoS::AtLeastOnce,
        expiring(1),
    )
    .await;
    publish_with(&client, "exp/c", "plain", QoS::AtMostOnce, None).await;
    publish_with(
        &client,
        "exp/d",
        "long-lived",
        QoS::AtLeastOnce,
        expiring(3600),
    )
    .await;
    assert_eq!(client.stats().queued, 4);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    gate.open();
    let got: Vec<String> = [
        recv(&mut sub).await,
        recv(&mut sub).await,
        recv(&mut sub).await,
    ]
    .iter()
    .map(|d| {
        if let Some(expiry) = d.properties.as_ref().and_then(|p| p.message_expiry) {
            assert!((3590..3600).contains(&expiry), "what is left: {expiry}");
        }
        text(d)
    })
    .collect();
    assert_eq!(got, vec!["first", "plain", "long-lived"]);
    let stats = wait_stats(&client, "flushed", |s| {
        s.queued == 0 && s.inflight == 0 && s.acked == 2
    })
    .await;
    assert_eq!((stats.expired, stats.refused, stats.sent), (1, 0, 3));
    assert!(sub.try_recv().is_none());
    client.shutdown().await;
    sub_client.shutdown().await;
}

/// A broker's ACL denies a topic: the PUBACK (QoS 1) or PUBREC (QoS 2) carries 0x87, the
/// message leaves the queue counted as refused and reported, and the queue keeps flowing, also
/// after more refused QoS 2 messages than rumqttc's window has slots (it keeps them; the worker
/// recycles the connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_refused_messages_leave_the_queue_and_it_keeps_flowing() {
    let dir = tempfile::tempdir().expect("tmp");
    let acl = dir.path().join("acl");
    std::fs::write(&acl, "topic deny denied/#\ntopic readwrite #\n").expect("acl");
    let broker = Mosquitto::start_with(free_port(), &format!("acl_file {}", acl.display()));
    let (sub_client, _) =
        MqttHandle::start(settings5("acl-sub", broker.port(), dir.path())).expect("start");
    let mut sub = subscribe(&sub_client, "allowed", QoS::AtLeastOnce).await;
    let (client, mut events) =
        MqttHandle::start(settings5("acl-pub", broker.port(), dir.path())).expect("start");

    publish(&client, "denied/one", "no", QoS::AtLeastOnce).await;
    let (topic, reason, code) = next_refusal(&mut events).await;
    assert_eq!(
        (topic.as_str(), reason.as_str(), code),
        ("denied/one", "not authorized (0x87)", 0x87)
    );
    publish(&client, "allowed", "next", QoS::AtLeastOnce).await;
    assert_eq!(text(&recv(&mut sub).await), "next");
    let stats = wait_stats(&client, "acked", |s| s.acked == 1).await;
    assert_eq!((stats.refused, stats.queued, stats.inflight), (1, 0, 0));

    const DENIED_QOS2: u64 = 30;
    for i in 0..DENIED_QOS2 {
        publish(&client, "denied/two", format!("q2-{i}"), QoS::ExactlyOnce).await;
    }
    publish(&client, "allowed", "after", QoS::ExactlyOnce).await;
    assert_eq!(text(&recv(&mut sub).await), "after");
    let stats = wait_stats(&client, "all settled", |s| {
        s.acked == 2 && s.refused == 1 + DENIED_QOS2
    })
    .await;
    assert_eq!((stats.queued, stats.inflight), (0, 0));
    assert!(
        stats.connects >= 2,
        "the connection was recycled: {stats:?}"
    );
    client.shutdown().await;
    sub_client.shutdown().await;
}

/// A record larger than the broker's Maximum Packet Size (it was queued while the broker was
/// away) is discarded as refused, never sent; the records around it are delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_record_larger_than_the_broker_accepts_is_discarded() {
    let broker = Mosquitto::start_with(free_port(), "max_packet_size 300");
    let gate = TcpGate::start(broker.port()).await;
    gate.close();
    let dir = tempfile::tempdir().expect("tmp");
    let (sub_client, _) =
        MqttHandle::start(settings5("big-sub", broker.port(), dir.path())).expect("start");
    let mut sub = subscribe(&sub_client, "big/#", QoS::AtLeastOnce).await;
    let (client, mut events) =
        MqttHandle::start(settings5("big-pub", gate.port(), dir.path())).expect("start");
    publish(&client, "big/a", "small one", QoS::AtLeastOnce).await;
    publish(&client, "big/b", "x".repeat(1000), QoS::AtLeastOnce).await;
    publish(&client, "big/c", "small two", QoS::AtLeastOnce).await;
    gate.open();
    assert_eq!(text(&recv(&mut sub).await), "small one");
    assert_eq!(text(&recv(&mut sub).await), "small two");
    let (topic, reason, code) = next_refusal(&mut events).await;
    assert_eq!((topic.as_str(), code), ("big/b", 0x95));
    assert!(reason.contains("maximum packet size of 300"), "{reason}");
    let stats = wait_stats(&client, "flushed", |s| s.acked == 2 && s.queued == 0).await;
    assert_eq!((stats.refused, stats.inflight, stats.connects), (1, 0, 1));
    client.shutdown().await;
    sub_client.shutdown().await;
}

/// Write syscalls this thread has made (`syscw` of /proc/thread-self/io).
fn thread_writes() -> u64 {
    let io = std::fs::read_to_string("/proc/thread-self/io").expect("/proc/thread-self/io");
    io.lines()
        .find_map(|line| line.strip_prefix("syscw: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("syscw in /proc/thread-self/io")
}

/// A burst of publishes already queued goes out in a few writes, not one per message
/// (vendor/rumqttc's request batching, `link::REQUEST_BATCH`), with either protocol, and the
/// broker passes on every one in order. The event loop runs on this test's current-thread
/// runtime, so this thread's write syscalls are the event loop's.
#[tokio::test]
async fn a_burst_of_publishes_goes_out_in_few_writes_and_in_order() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().expect("tmp");
    let (sub, _) =
        MqttHandle::start(settings("burst-sub", broker.port(), dir.path())).expect("start");
    let mut messages = subscribe(&sub, "burst/#", QoS::AtLeastOnce).await;
    for (protocol, name) in [(Protocol::V311, "burst-v4"), (Protocol::V5, "burst-v5")] {
        let cfg = settings_for(protocol, name, broker.port(), dir.path());
        // As many as rumqttc's request channel holds (max_inflight + 64), all queued first.
        let burst = usize::from(cfg.max_inflight) + 64;
        let (client, mut eventloop) = super::link::build(&cfg);
        loop {
            match within("CONNACK", eventloop.poll()).await.expect("connects") {
                super::link::Event::ConnAck { .. } => break,
                _ => continue,
            }
        }
        for i in 0..burst {
            client
                .try_publish(
                    format!("burst/{name}"),
                    QoS::AtMostOnce,
                    false,
                    format!("{name} {i:04} {}", "x".repeat(80)).into_bytes(),
                    None,
                    None,
                )
                .expect("the channel holds the burst");
        }
        let before = thread_writes();
        let mut sent = 0;
        // Polls answered from rumqttc's buffer (what the worker publishes its counters after).
        let mut buffered = 0;
        while sent < burst {
            if let super::link::Event::OutgoingPublish(_) =
                within("PUBLISH", eventloop.poll()).await.expect("no error")
            {
                sent += 1;
            }
            if eventloop.has_buffered_events() {
                buffered += 1;
            }
        }
        let writes = thread_writes() - before;
        assert!(
            buffered >= burst / 2,
            "{name}: only {buffered} of {burst} events were left waiting in rumqttc's buffer"
        );
        assert!(
            !eventloop.has_buffered_events(),
            "{name}: the burst's last event leaves rumqttc's buffer empty"
        );
        assert!(
            writes <= (burst / 8) as u64,
            "{name}: {burst} publishes took {writes} writes (one per packet without batching)"
        );
        // Keep polling (acks, pings) while the subscriber takes the burst in.
        let drive = tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
        for i in 0..burst {
            let d = recv(&mut messages).await;
            assert_eq!(&*d.topic, format!("burst/{name}"));
            assert!(
                text(&d).starts_with(&format!("{name} {i:04} ")),
                "{name}: message {i} arrived as {:?}",
                text(&d)
            );
        }
        drive.abort();
        drop(client);
    }
    sub.shutdown().await;
}

/// A request rumqttc's state refuses in the middle of a batch (here a PUBLISH with a topic
/// alias above the broker's maximum, MQTT 5) comes back as the connection error only after the
/// events of the publishes written before it, as it would without batching, so a caller learns
/// those messages went out. rumqttc used directly: Ganglion's own requests never carry an alias.
#[tokio::test]
async fn a_refused_request_in_a_batch_reports_the_publishes_before_it_first() {
    use rumqttc::v5::{mqttbytes::v5::PublishProperties, mqttbytes::QoS as Q5, Event as E5};
    use rumqttc::Outgoing;
    let broker = Mosquitto::start();
    let mut options = rumqttc::v5::MqttOptions::new("refused-v5", "127.0.0.1", broker.port());
    options.set_max_request_batch(super::link::REQUEST_BATCH);
    let (client, mut eventloop) = rumqttc::v5::AsyncClient::new(options, 16);
    loop {
        let event = within("CONNACK", eventloop.poll()).await.expect("connects");
        if let E5::Incoming(rumqttc::v5::Incoming::ConnAck(_)) = event {
            break;
        }
    }
    let publish = |i: u32, alias: Option<u16>| {
        let properties = PublishProperties {
            topic_alias: alias,
            ..Default::default()
        };
        client
            .try_publish_with_properties(
                "refused/v5",
                Q5::AtMostOnce,
                false,
                i.to_string(),
                properties,
            )
            .expect("queued")
    };
    for i in 1..=3 {
        publish(i, None);
    }
    publish(4, Some(u16::MAX)); // above any broker's Topic Alias Maximum: refused by the state
    publish(5, None);
    let mut sent = 0;
    let error = loop {
        match within("events", eventloop.poll()).await {
            Ok(E5::Outgoing(Outgoing::Publish(_))) => sent += 1,
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert_eq!(
        sent, 3,
        "the three publishes before the refusal, then {error}"
    );
    assert!(
        error.to_string().to_lowercase().contains("alias"),
        "{error}"
    );
}
