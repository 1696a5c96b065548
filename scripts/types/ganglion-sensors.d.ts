// Ganglion: `ganglion:sensors`, the sensors declared in ganglion.toml ([[sensors]]).
// Kept in step with agent/src/js/builtins/sensors.js and the driver registry (a unit test checks
// that every driver value named in docs/sensors.md appears here).

declare module 'ganglion:sensors' {
  import { EventEmitter } from 'events';

  /** What every reading has. `time` is milliseconds since the Unix epoch. */
  interface ReadingBase {
    /** The sensor's `name` from ganglion.toml. */
    sensor: string;
    /** Milliseconds since the Unix epoch, when the read finished. */
    time: number;
  }

  /** Bosch BME280: temperature (°C), humidity (%RH), pressure (hPa). */
  interface Bme280Reading extends ReadingBase {
    driver: 'bme280';
    /** °C */
    temperature: number;
    /** hPa, absolute (absent with `oversampling_p = 0`) */
    pressure?: number;
    /** %RH (absent with `oversampling_h = 0`) */
    humidity?: number;
  }

  /** Bosch BMP280: temperature (°C), pressure (hPa). */
  interface Bmp280Reading extends ReadingBase {
    driver: 'bmp280';
    /** °C */
    temperature: number;
    /** hPa, absolute (absent with `oversampling_p = 0`) */
    pressure?: number;
  }

  /** Sensirion SHT30/31/35 (CRC checked). */
  interface Sht3xReading extends ReadingBase {
    driver: 'sht3x';
    /** °C */
    temperature: number;
    /** %RH */
    humidity: number;
  }

  /** TI ADS1115, single-ended volts for the configured `channels`. */
  interface Ads1115Reading extends ReadingBase {
    driver: 'ads1115';
    /** V on AIN0 (if configured) */
    ain0?: number;
    /** V on AIN1 (if configured) */
    ain1?: number;
    /** V on AIN2 (if configured) */
    ain2?: number;
    /** V on AIN3 (if configured) */
    ain3?: number;
  }

  /** ROHM BH1750 ambient light. */
  interface Bh1750Reading extends ReadingBase {
    driver: 'bh1750';
    /** lux */
    illuminance: number;
  }

  /** Maxim DS18B20 via Linux 1-Wire sysfs (CRC "YES" checked). */
  interface Ds18b20Reading extends ReadingBase {
    driver: 'ds18b20';
    /** °C */
    temperature: number;
  }

  /** NMEA 0183 GPS (GGA + RMC). Position values only with a fix. */
  interface NmeaReading extends ReadingBase {
    driver: 'nmea';
    /** Fix quality: 0 none, 1 GPS, 2 DGPS, 4 RTK fixed, 5 RTK float. */
    fix: number;
    /** Satellites in use. */
    satellites?: number;
    /** Horizontal dilution of precision. */
    hdop?: number;
    /** Degrees, north positive (WGS84). */
    latitude?: number;
    /** Degrees, east positive (WGS84). */
    longitude?: number;
    /** m above mean sea level. */
    altitude?: number;
    /** m/s over ground. */
    speed?: number;
    /** Degrees from true north. */
    course?: number;
    /** UTC time of the fix, ISO 8601. */
    gps_time?: string;
  }

  /** Modbus RTU: one value per mapped register, named and scaled as configured. */
  interface ModbusReading extends ReadingBase {
    driver: 'modbus';
    [register: string]: number | string;
  }

  /** Pulse counter on a GPIO input (flow meters, anemometers). */
  interface PulseReading extends ReadingBase {
    driver: 'pulse';
    /** Edges since the sensor started. */
    count: number;
    /** Edges during this interval. */
    pulses: number;
    /** Hz: edges per second during this interval. */
    rate: number;
  }

  type Reading =
    | Bme280Reading
    | Bmp280Reading
    | Sht3xReading
    | Ads1115Reading
    | Bh1750Reading
    | Ds18b20Reading
    | NmeaReading
    | ModbusReading
    | PulseReading;

  /** A failed read: `code` is EIO, ENXIO (no answer), ETIMEDOUT, EBADMSG (CRC, checksum,
   * sentinel value), ENODEV, ENOENT, EACCES, EBUSY or EINVAL. */
  interface SensorError extends Error {
    code: string;
    sensor: string;
    driver: string;
    time: number;
    /** Consecutive failures including this one. */
    failures: number;
  }

  interface HealthEvent {
    sensor: string;
    driver: string;
    time: number;
  }

  interface OfflineEvent extends HealthEvent {
    /** Consecutive failures (the sensor's `offline_after`). */
    failures: number;
    /** The last failure. */
    error: SensorError;
  }

  interface FieldInfo {
    name: string;
    unit: string;
    description: string;
    type: 'number' | 'string';
  }

  interface SensorInfo {
    name: string;
    driver: string;
    /** Where it is attached, e.g. "I2C bus 1 address 0x76". */
    location: string;
    /** ms between reads. */
    interval: number;
    /** ms one read may take. */
    timeout: number;
    /** Consecutive failures before 'offline'. */
    offlineAfter: number;
    /** Values the sensor reports. */
    fields: FieldInfo[];
  }

  type SensorState = 'starting' | 'online' | 'offline';

  interface SensorStats {
    state: SensorState;
    /** Successful reads (scheduled and on demand). */
    reads: number;
    /** Failed reads. */
    errors: number;
    /** Consecutive failures now. */
    failures: number;
    /** Readings dropped because the script fell behind (oldest first). */
    dropped: number;
    /** Readings delivered as 'reading' events. */
    delivered: number;
    /** Readings queued or on their way; scheduled reads = delivered + dropped + pending. */
    pending: number;
    /** Time of the last successful read, or null. */
    lastReading: number | null;
    lastError: { code: string; message: string; time: number } | null;
  }

  interface Sensor extends EventEmitter {
    readonly name: string;
    readonly driver: string;
    readonly location: string;
    readonly interval: number;
    readonly timeout: number;
    readonly offlineAfter: number;
    readonly fields: FieldInfo[];
    readonly state: SensorState;
    stats(): SensorStats;
    /** Read now (after any read in progress). */
    read(): Promise<Reading>;
    on(event: 'reading', listener: (reading: Reading) => void): this;
    on(event: 'error', listener: (error: SensorError) => void): this;
    on(event: 'online', listener: (event: HealthEvent) => void): this;
    on(event: 'offline', listener: (event: OfflineEvent) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
  }

  interface Sensors extends EventEmitter {
    /** The sensor called `name`; throws an Error with code ENOENT if there is none. */
    get(name: string): Sensor;
    /** Read sensor `name` now; rejects with a SensorError. */
    read(name: string): Promise<Reading>;
    /** Every configured sensor. */
    list(): (SensorInfo & { state: SensorState })[];
    on(event: 'reading', listener: (reading: Reading) => void): this;
    /** Only emitted when listened to: an unobserved failure is logged, never thrown. */
    on(event: 'error', listener: (error: SensorError) => void): this;
    on(event: 'online', listener: (event: HealthEvent) => void): this;
    on(event: 'offline', listener: (event: OfflineEvent) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
  }

  const sensors: Sensors;
  export default sensors;
  export function get(name: string): Sensor;
  export function read(name: string): Promise<Reading>;
  export function list(): (SensorInfo & { state: SensorState })[];
  export function on(event: string, listener: (...args: any[]) => void): Sensors;
  export function once(event: string, listener: (...args: any[]) => void): Sensors;
  export function off(event: string, listener: (...args: any[]) => void): Sensors;
  export type {
    Reading,
    SensorError,
    Sensor,
    Sensors,
    SensorStats,
    SensorInfo,
    FieldInfo,
    HealthEvent,
    OfflineEvent,
  };
}

declare module 'ganglion' {
  export { default as sensors } from 'ganglion:sensors';
}
