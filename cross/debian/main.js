// /etc/ganglion/scripts/main.js: default entry script installed by the ganglion .deb (a conffile).
// Replace it with your own (examples: /usr/share/ganglion/examples/).
console.log('ganglion: default script running; edit /etc/ganglion/scripts/main.js');
setInterval(() => {}, 60 * 1000); // keep running, like a Node.js service
