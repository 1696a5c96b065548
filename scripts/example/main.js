// Example gateway script: every sensor reading is logged with its units and published as JSON to
// MQTT (QoS 1: kept on disk until the broker acknowledges it), health changes are published too,
// and `<prefix>/cmd/read` asks for an on-demand reading. The sensors are declared in
// ganglion.toml ([[sensors]]); [mqtt] there has no url, so the embedded broker on 127.0.0.1:1883
// is used. Watch it with: ganglion sub 'ganglion/#'
import agent from 'ganglion:agent';
import mqtt from 'ganglion:mqtt';
import sensors from 'ganglion:sensors';

// Units per sensor and value, from the sensors' own descriptions.
const units = new Map(
  sensors.list().map((s) => [s.name, new Map(s.fields.map((f) => [f.name, f.unit]))]),
);

function describe(reading) {
  const { sensor, driver, time, ...values } = reading;
  const parts = Object.entries(values).map(([name, value]) => {
    const unit = units.get(sensor)?.get(name) ?? '';
    const shown = typeof value === 'number' ? Number(value.toFixed(4)) : value;
    return unit && unit !== 'counts' ? `${name}=${shown} ${unit}` : `${name}=${shown}`;
  });
  return `${sensor} (${driver}): ${parts.join(', ')}`;
}

function publish(topic, message) {
  mqtt.publish(topic, message, { qos: 1 }).catch((e) => console.warn(`not queued: ${e.code} ${e.message}`));
}

sensors.on('reading', (reading) => {
  console.log(describe(reading));
  publish(mqtt.topic('sensors', reading.sensor), reading);
});
sensors.on('online', (e) => {
  console.log(`${e.sensor} is online`);
  publish(mqtt.topic('health', e.sensor), { sensor: e.sensor, state: 'online', time: e.time });
});
sensors.on('offline', (e) => {
  console.warn(`${e.sensor} is offline: ${e.error.code} ${e.error.message}`);
  publish(mqtt.topic('health', e.sensor), { sensor: e.sensor, state: 'offline', error: e.error.code, time: e.time });
});

// Commands: publish a sensor name to <prefix>/cmd/read to get a fresh reading on <prefix>/sensors/<name>.
mqtt.subscribe(mqtt.topic('cmd', 'read'), async (msg) => {
  const name = msg.text().trim();
  try {
    publish(mqtt.topic('sensors', name), await sensors.read(name));
  } catch (e) {
    console.warn(`read ${name}: ${e.code} ${e.message}`);
  }
});
mqtt.on('connect', () => console.log(`MQTT connected; publishing under ${mqtt.prefix}/`));
mqtt.on('disconnect', (reason) => console.warn(`MQTT disconnected (${reason}); readings stay queued on disk`));
sensors.on('error', (err) => console.warn(`${err.sensor}: ${err.code} ${err.message}`));

agent.on('shutdown', () => {
  for (const { name } of sensors.list()) {
    const s = sensors.get(name).stats();
    console.log(`${name}: ${s.reads} reads, ${s.errors} errors, ${s.dropped} dropped`);
  }
});

console.log(`reading ${sensors.list().length} sensors on board '${agent.board}'`);
