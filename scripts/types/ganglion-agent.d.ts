// Ganglion: `ganglion:agent` (this agent's identity and lifecycle) and the `ganglion` umbrella
// module. Kept in step with agent/src/js/builtins/agent.js and ganglion.js.

declare module 'ganglion:agent' {
  import { EventEmitter } from 'events';
  interface AgentStats {
    /** Uncaught exceptions and unhandled rejections since the script started. */
    errors: number;
    /** Events delivered from Rust to JS. */
    events: number;
    /** Seconds since the script runtime started. */
    uptime: number;
    /** Whether healthy() was called. */
    healthy: boolean;
  }
  interface Agent extends EventEmitter {
    /** Agent id from `[agent] id` (default: the host name). */
    readonly id: string;
    /** Ganglion version. */
    readonly version: string;
    /** Board name from `[agent] board`. */
    readonly board: string;
    /** Tell the OTA trial window that this script version works. */
    healthy(): void;
    stats(): AgentStats;
    /** SIGTERM/SIGINT or an OTA switch: finish within `[agent] shutdown_grace`. */
    on(event: 'shutdown', listener: (reason: string) => void): this;
    on(event: string | symbol, listener: (...args: any[]) => void): this;
  }
  const agent: Agent;
  export default agent;
  export const id: string, version: string, board: string;
  export function healthy(): void;
  export function stats(): AgentStats;
  export function on(event: 'shutdown', listener: (reason: string) => void): Agent;
  export function once(event: 'shutdown', listener: (reason: string) => void): Agent;
  export function off(event: 'shutdown', listener: (reason: string) => void): Agent;
}

declare module 'ganglion' {
  export { default as agent } from 'ganglion:agent';
}
