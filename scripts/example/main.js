// Example gateway script: log every sensor reading with its units, and sensor health changes.
// The sensors themselves are declared in ganglion.toml ([[sensors]]).
import agent from 'ganglion:agent';
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

sensors.on('reading', (reading) => console.log(describe(reading)));
sensors.on('online', (e) => console.log(`${e.sensor} is online`));
sensors.on('offline', (e) => console.warn(`${e.sensor} is offline: ${e.error.code} ${e.error.message}`));
sensors.on('error', (err) => console.warn(`${err.sensor}: ${err.code} ${err.message}`));

agent.on('shutdown', () => {
  for (const { name } of sensors.list()) {
    const s = sensors.get(name).stats();
    console.log(`${name}: ${s.reads} reads, ${s.errors} errors, ${s.dropped} dropped`);
  }
});

console.log(`reading ${sensors.list().length} sensors on board '${agent.board}'`);
