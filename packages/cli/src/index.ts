// Public entry of @teleport-plugin/cli: run the command programmatically.
export { main } from './main.js';
export { printFatal } from './fatal.js';
