// `ganglion`: re-exports the ganglion:* modules.
import agent from 'ganglion:agent';
export { agent };
export default { agent };
