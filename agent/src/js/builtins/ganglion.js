// `ganglion`: re-exports the ganglion:* modules.
import agent from 'ganglion:agent';
import sensors from 'ganglion:sensors';
export { agent, sensors };
export default { agent, sensors };
