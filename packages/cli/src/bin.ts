#!/usr/bin/env node
import { main } from './main.js';

// main() settles only when the command is done; commands that must outlive it (start) exit themselves.
const code = await main(process.argv.slice(2));
process.exit(code);
