#!/usr/bin/env node
// Committed (not built) so package managers can link the command before the TypeScript build runs.
import '../dist/src/bin.js';
