// /etc/ganglion/scripts/main.js: default entry script installed by the ganglion .deb (a conffile).
// Replace it with your own (examples: /usr/share/ganglion/examples/).
import agent from 'ganglion:agent';

console.log(`ganglion ${agent.version} on board ${agent.board}: edit /etc/ganglion/scripts/main.js`);
const keepAlive = setInterval(() => {}, 60 * 1000); // keep running, like a Node.js service
agent.on('shutdown', () => clearInterval(keepAlive));
