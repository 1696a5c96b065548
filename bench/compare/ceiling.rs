//! The ceiling: a plain Rust rumqttc publisher with no JavaScript and no durable queue, run as a
//! child process of the driver (`compare --ceiling-child '<options json>'`) so its memory and
//! start-up are measured like the other runtimes'. It speaks the same protocol as the JS
//! adapters (`BENCH {json}` lines on stdout, 'go' on bench/ctl/<run>) and publishes the same
//! bytes (workload.rs).

use std::io::Write;
use std::time::{Duration, Instant};

use ganglion_devices::gpio::monotonic_ns;
use rumqttc::{AsyncClient, Event, MqttOptions, NetworkOptions, Outgoing, Packet, QoS};
use serde_json::{json, Value};

use crate::workload;

fn report(event: &str, mut fields: Value) {
    fields["event"] = json!(event);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "BENCH {fields}");
    let _ = out.flush();
}

fn num(opts: &Value, key: &str) -> u64 {
    opts[key]
        .as_u64()
        .unwrap_or_else(|| panic!("ceiling: option {key} missing in {opts}"))
}

fn qos_of(n: u64) -> QoS {
    if n == 0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    }
}

/// Runs one ceiling process until it is killed.
pub fn child(options: &str) {
    let opts: Value = serde_json::from_str(options).expect("ceiling: options are JSON");
    if opts["mode"] == "parts" {
        report("done", parts(num(&opts, "n")));
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("ceiling: tokio runtime");
    rt.block_on(run(opts));
}

async fn run(opts: Value) {
    let port = u16::try_from(num(&opts, "port")).expect("ceiling: port");
    let client_id = opts["clientId"].as_str().unwrap_or("ceiling").to_owned();
    let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_inflight(u16::try_from(opts["inflight"].as_u64().unwrap_or(100)).unwrap_or(100))
        .set_max_packet_size(1 << 20, 1 << 20)
        // The agent's batch size (the same patched rumqttc), so the ceiling is the same client.
        .set_max_request_batch(ganglion::mqtt::REQUEST_BATCH);
    let (client, mut eventloop) = AsyncClient::new(options, 1000);
    let mut network = NetworkOptions::new();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
    let mode = opts["mode"].as_str().unwrap_or_default().to_owned();
    match mode.as_str() {
        "start" => {
            client
                .publish("bench/start", QoS::AtLeastOnce, false, "{\"start\":true}")
                .await
                .expect("ceiling: publish");
        }
        "load" => {
            let run = run_name(&opts);
            let ctl = format!("bench/ctl/{run}");
            client
                .subscribe(&ctl, QoS::AtMostOnce)
                .await
                .expect("ceiling: subscribe");
            wait_for(&mut eventloop, |p| matches!(p, Packet::SubAck(_))).await;
            report("ready", json!({}));
            wait_for(
                &mut eventloop,
                |p| matches!(p, Packet::Publish(m) if m.topic == ctl),
            )
            .await;
            load(&opts, client.clone(), &mut eventloop, &run).await;
        }
        "edge" => {
            wait_for(&mut eventloop, |p| matches!(p, Packet::ConnAck(_))).await;
            report("ready", json!({}));
            let (edges, period, qos) = (
                num(&opts, "edges"),
                num(&opts, "periodMs"),
                qos_of(num(&opts, "qos")),
            );
            let c = client.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(period));
                tick.tick().await;
                for seq in 0..edges {
                    tick.tick().await;
                    let edge = monotonic_ns();
                    let payload = workload::edge_payload(seq, edge, monotonic_ns());
                    c.publish("bench/edge", qos, false, payload)
                        .await
                        .expect("ceiling: publish");
                }
                report("done", json!({ "edges": edges }));
            });
        }
        other => panic!("ceiling: unknown mode {other:?}"),
    }
    // Stay connected (idle) until the driver stops us.
    loop {
        if let Err(e) = eventloop.poll().await {
            panic!("ceiling: connection lost: {e}");
        }
    }
}

/// `timeParts` of common.mjs in Rust, no MQTT: µs per reading of the generator alone and of
/// generator → handler → topic and JSON strings (dropped after their bytes are counted).
fn parts(n: u64) -> Value {
    use std::hint::black_box;
    let take = usize::try_from(n).unwrap_or(usize::MAX);
    let t0 = Instant::now();
    let mut sink = 0u64;
    for r in workload::Readings::new().take(take) {
        sink = sink.wrapping_add(black_box(r).seq);
    }
    let generator = t0.elapsed();
    let t1 = Instant::now();
    for (topic, payload) in workload::messages(n) {
        sink = sink.wrapping_add(black_box(topic.len() + payload.len()) as u64);
    }
    let handler = t1.elapsed();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n.max(1) as f64;
    json!({ "generatorUs": per(generator), "handlerUs": per(handler), "sink": sink })
}

/// The run's name (options.run), as the JS adapters print it into topics.
fn run_name(opts: &Value) -> String {
    match &opts["run"] {
        Value::String(run) => run.clone(),
        other => other.to_string(),
    }
}

async fn wait_for(eventloop: &mut rumqttc::EventLoop, want: impl Fn(&Packet) -> bool) {
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(p)) if want(&p) => return,
            Ok(_) => {}
            Err(e) => panic!("ceiling: connection failed: {e}"),
        }
    }
}

/// n readings → handler → publish; timed until the last PUBLISH was written (QoS 0) or the
/// last PUBACK arrived (QoS 1). At QoS 0 then also until the broker has read them all: the
/// PUBACK of a QoS 1 end marker (`readEnd` in common.mjs), reported as 'read'.
async fn load(opts: &Value, client: AsyncClient, eventloop: &mut rumqttc::EventLoop, run: &str) {
    let n = num(opts, "n");
    let qos = qos_of(num(opts, "qos"));
    let messages = workload::messages_for(n);
    let end = client.clone();
    let t0 = Instant::now();
    let producer = tokio::spawn(async move {
        for (topic, payload) in workload::messages(n) {
            client
                .publish(topic, qos, false, payload)
                .await
                .expect("ceiling: publish");
        }
        Instant::now()
    });
    let mut done = 0;
    while done < messages {
        match eventloop.poll().await {
            Ok(Event::Outgoing(Outgoing::Publish(_))) if qos == QoS::AtMostOnce => done += 1,
            Ok(Event::Incoming(Packet::PubAck(_))) if qos == QoS::AtLeastOnce => done += 1,
            Ok(_) => {}
            Err(e) => panic!("ceiling: connection lost: {e}"),
        }
    }
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    let accepted = producer.await.expect("ceiling: producer");
    report(
        "done",
        json!({
            "ms": ms,
            "acceptedMs": accepted.duration_since(t0).as_secs_f64() * 1000.0,
            "events": n,
            "messages": messages,
        }),
    );
    if qos == QoS::AtMostOnce {
        let (topic, payload) = workload::read_end(run);
        end.publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .expect("ceiling: publish");
        wait_for(eventloop, |p| matches!(p, Packet::PubAck(_))).await;
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        report("read", json!({ "ms": ms }));
    }
}
