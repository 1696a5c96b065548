// Ganglion: `ganglion:mqtt`, publishing what scripts produce and subscribing to commands.
// Kept in step with agent/src/js/builtins/mqtt.js and agent/src/js/bind_mqtt.rs; the config and
// the durability rules are in docs/mqtt.md.

declare module 'ganglion:mqtt' {
  import { EventEmitter } from 'events';

  /** MQTT quality of service: 0 at most once, 1 at least once, 2 exactly once per connection. */
  type QoS = 0 | 1 | 2;

  /**
   * What `publish` accepts: a string (UTF-8), bytes (Buffer/Uint8Array, any typed array or
   * DataView, ArrayBuffer), or a value that is JSON-encoded (object, array, number, boolean).
   * `null`/`undefined` publish an empty payload.
   */
  type Payload =
    | string
    | Uint8Array
    | ArrayBuffer
    | ArrayBufferView
    | object
    | number
    | boolean
    | null
    | undefined;

  /**
   * MQTT 5 publish properties (MQTT.js names), stored with the message in the durable queue.
   * Checked when `publish` is called: a wrong type or an unknown name throws a TypeError, a
   * number out of range or a text over 65535 bytes a RangeError, naming the property. With
   * `[mqtt] protocol = "3.1.1"` they are ignored (a warning is logged once).
   */
  interface PublishProperties {
    /** `true`: the payload is UTF-8 text (checked: bytes that are not UTF-8 throw a TypeError). */
    payloadFormatIndicator?: boolean;
    /**
     * Lifetime in whole seconds, 1..=4294967295. A message still queued when it runs out (the
     * broker was away) is discarded and counted in `stats().expired`; otherwise it is sent with
     * what is left of it.
     */
    messageExpiryInterval?: number;
    /** A MIME type or any text describing the payload. */
    contentType?: string;
    /** Where a reply should be published: a valid publish topic (no wildcards). */
    responseTopic?: string;
    /** Bytes tying a reply to its request (a string is sent as its UTF-8 bytes). */
    correlationData?: string | Uint8Array | ArrayBuffer;
    /** Name/value pairs; an array sends the name once per value, in order. */
    userProperties?: { [name: string]: string | string[] };
  }

  interface PublishOptions {
    /** Default 0. Anything but 0, 1, 2 throws a RangeError; a non-number a TypeError. */
    qos?: QoS;
    /** Ask the broker to keep the message as the topic's last known value. Default false. */
    retain?: boolean;
    /** MQTT 5 properties (`[mqtt] protocol = "5"`). */
    properties?: PublishProperties;
  }

  /** MQTT 5 properties of a received message (all absent with MQTT 3.1.1). */
  interface MessageProperties {
    /** `true`: the sender says the payload is UTF-8 text. */
    payloadFormatIndicator?: boolean;
    /** What is left of the message's lifetime, in seconds. */
    messageExpiryInterval?: number;
    contentType?: string;
    responseTopic?: string;
    correlationData?: Buffer;
    /** A name sent several times maps to an array of its values. */
    userProperties?: { [name: string]: string | string[] };
    subscriptionIdentifiers?: number[];
  }

  interface SubscribeOptions {
    /** Highest QoS to receive messages with. Default 0. */
    qos?: QoS;
  }

  /** A received message. */
  class Message {
    /** The topic it was published to (never a wildcard). */
    readonly topic: string;
    /** The payload bytes. */
    readonly payload: Buffer;
    /** The QoS it was delivered with (at most the subscription's). */
    readonly qos: QoS;
    /** Sent because of the subscription (a retained message), not a live publish. */
    readonly retain: boolean;
    /** The broker marked it as a possible duplicate (QoS 1/2 redelivery). */
    readonly dup: boolean;
    /** MQTT 5 properties; `{}` with MQTT 3.1.1 or when the message has none. */
    readonly properties: MessageProperties;
    /** The payload decoded as UTF-8. */
    text(): string;
    /** The payload parsed as JSON (throws a SyntaxError if it is not JSON). */
    json(): any;
  }

  /** What `subscribe` resolves with once the broker granted the subscription. */
  interface SubscriptionInfo {
    /** The filter as given. */
    filter: string;
    /** The QoS the broker granted. */
    qos: QoS;
    /** Ends this subscription (the broker's, once no other subscription uses the filter). */
    unsubscribe(): void;
  }

  /** Counters of the connection and its durable queue (numbers, since the agent started). */
  interface MqttStats {
    /** Connected to the broker right now. */
    connected: boolean;
    /** Messages in the queue waiting to be sent. */
    queued: number;
    /** Messages sent and not yet acknowledged (QoS 1/2) or written (QoS 0). */
    inflight: number;
    /** PUBLISH packets written to the network, replays included. */
    sent: number;
    /** QoS 1/2 messages the broker acknowledged (PUBACK/PUBCOMP). */
    acked: number;
    /** Messages dropped by the queue cap (`on_full = "drop-oldest"`), exact. */
    dropped: number;
    /** Publishes refused because the queue was full (`on_full = "reject-new"`), exact. */
    rejected: number;
    /** Messages lost to on-disk corruption (a torn tail after a power cut). */
    corrupt: number;
    /** Size of the queue's files. */
    bytesOnDisk: number;
    /** Bytes of queued and in-flight messages (what `[mqtt.queue] cap` limits). */
    queuedBytes: number;
    /** Messages received on subscriptions. */
    received: number;
    /** Received messages dropped because a subscription's buffer (1024) was full. */
    receivedDropped: number;
    /** Successful connects since start. */
    connects: number;
    /** MQTT 5: messages discarded because their `messageExpiryInterval` ran out while queued. */
    expired: number;
    /**
     * MQTT 5: messages the broker refused (a PUBACK/PUBREC reason code such as 0x87 "not
     * authorized", or larger than its maximum packet size); removed from the queue, not retried.
     */
    refused: number;
  }

  /** `'connect'` payload. */
  interface ConnectEvent {
    /** The broker resumed a persistent session (`clean_session = false`). */
    sessionPresent: boolean;
  }

  /** Error codes on errors from this module (`err.code`). */
  type MqttErrorCode =
    /** A publish refused because the queue is at its cap with `on_full = "reject-new"`. */
    | 'ERR_MQTT_QUEUE_FULL'
    /** The broker refused a subscription. */
    | 'ERR_MQTT_SUBSCRIPTION_REFUSED'
    /** `unsubscribe()` ended a subscription before the broker granted it (`subscribe` rejects). */
    | 'ERR_MQTT_UNSUBSCRIBED'
    /** MQTT 5: the broker refused a queued message (`'error'` event; see `topic`, `reasonCode`). */
    | 'ERR_MQTT_REFUSED'
    /** The connection is shut down (agent stopping). */
    | 'ERR_MQTT_CLOSED'
    /** `[mqtt]` cannot be used (thrown by the first use of the module). */
    | 'ERR_MQTT_CONFIG'
    /** A connection attempt failed or the queue could not be synced (`'error'` event). */
    | 'ERR_MQTT_CONNECTION'
    /** The queue's files could not be written or read. */
    | 'EIO';

  interface MqttError extends Error {
    code: MqttErrorCode;
    /** `ERR_MQTT_REFUSED`: the refused message's topic. */
    topic?: string;
    /** `ERR_MQTT_REFUSED`: the MQTT 5 reason code (0x95 when too large for the broker). */
    reasonCode?: number;
  }

  /**
   * The agent's MQTT connection (`[mqtt]` in ganglion.toml; without a `url`, the embedded broker
   * on 127.0.0.1:1883). It starts on first use: a publish, a subscribe, a listener, or reading
   * `connected`/`prefix`/`stats()`.
   */
  interface Mqtt extends EventEmitter {
    /** True while connected to the broker. */
    readonly connected: boolean;
    /** The agent's topic prefix (`[mqtt] topic_prefix` with `{id}` filled in), e.g. `ganglion/gw-01`. */
    readonly prefix: string;
    /** `topic('a', 'b')` → `<prefix>/a/b`. */
    topic(...parts: string[]): string;
    /**
     * Queue a message. A bad topic (empty, a `+`/`#` wildcard, NUL, not UTF-8) or payload throws a
     * TypeError now; a bad QoS or a topic/packet that is too large a RangeError. The promise
     * resolves with the message's queue sequence number once it is durably accepted (written to
     * the on-disk queue, all QoS levels; see docs/mqtt.md), in call order, and rejects with
     * `ERR_MQTT_QUEUE_FULL` (reject-new at the cap), `EIO`, or `ERR_MQTT_CLOSED` (the agent is
   * stopping and the message was not queued). Sending happens later, also across
     * reconnects and restarts. Publishing never blocks the event loop.
     */
    publish(topic: string, payload: Payload, options?: PublishOptions): Promise<number>;
    /**
     * Call `handler` for every message matching `filter` (`+` and `#` wildcards). A bad filter
     * throws a TypeError now, a bad QoS a RangeError. Resolves once the broker granted it (while
     * disconnected: after the next connect); restored after every reconnect. Rejects with
     * `ERR_MQTT_SUBSCRIPTION_REFUSED` if the broker refused it, `ERR_MQTT_UNSUBSCRIBED` if
     * `unsubscribe()` ended it first. A handler that throws is logged and delivery goes on.
     */
    subscribe(
      filter: string,
      handler: (this: Mqtt, message: Message) => void | Promise<void>,
      options?: SubscribeOptions,
    ): Promise<SubscriptionInfo>;
    /** End the subscriptions to `filter` (only the one with `handler` if given); returns how many. */
    unsubscribe(filter: string, handler?: (message: Message) => void | Promise<void>): number;
    /** A snapshot of the counters. */
    stats(): MqttStats;

    /** Connected (again); the queue is being replayed. */
    on(event: 'connect', listener: (event: ConnectEvent) => void): this;
    /**
     * An established connection was lost (a reconnect with backoff follows). With MQTT 5 a
     * broker's DISCONNECT names its reason code, e.g. `session taken over (0x8E)`.
     */
    on(event: 'disconnect', listener: (reason: string) => void): this;
    /**
     * A connection attempt failed (refused, TLS, ...), the queue could not be synced
     * (`ERR_MQTT_CONNECTION`), or, with MQTT 5, the broker refused a queued message
     * (`ERR_MQTT_REFUSED`). Without a listener it is only logged (unlike a plain EventEmitter,
     * it never throws).
     */
    on(event: 'error', listener: (error: MqttError) => void): this;
    /** The queue cap dropped this many of the oldest messages (`on_full = "drop-oldest"`). */
    on(event: 'dropped', listener: (count: number) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
  }

  const mqtt: Mqtt;
  export default mqtt;
  export { Message };
  export function publish(topic: string, payload: Payload, options?: PublishOptions): Promise<number>;
  export function subscribe(
    filter: string,
    handler: (message: Message) => void | Promise<void>,
    options?: SubscribeOptions,
  ): Promise<SubscriptionInfo>;
  export function unsubscribe(filter: string, handler?: (message: Message) => void | Promise<void>): number;
  export function stats(): MqttStats;
  export function topic(...parts: string[]): string;
  export type {
    QoS,
    Payload,
    PublishOptions,
    PublishProperties,
    MessageProperties,
    SubscribeOptions,
    SubscriptionInfo,
    MqttStats,
    ConnectEvent,
    MqttError,
    MqttErrorCode,
    Mqtt,
  };
}

declare module 'ganglion' {
  export { default as mqtt } from 'ganglion:mqtt';
}
