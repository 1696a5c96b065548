// `ganglion`: re-exports the ganglion:* modules.
import agent from 'ganglion:agent';
import mqtt from 'ganglion:mqtt';
import sensors from 'ganglion:sensors';
export { agent, mqtt, sensors };
export default { agent, mqtt, sensors };
