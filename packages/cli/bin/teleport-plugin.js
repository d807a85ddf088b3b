#!/bin/sh
':' //; case " $NODE_OPTIONS " in *--max-semi-space-size*) exec node "$0" "$@" ;; *) exec node --max-semi-space-size=4 "$0" "$@" ;; esac
// The line above is for sh, and a string and a comment for Node: the command runs Node with a
// 4 MB young generation (Node's default grows to 16 MB per semi-space), which keeps the process
// close to its idle size after a burst (README, Performance); a --max-semi-space-size in
// NODE_OPTIONS is left to win. Committed (not built) so package managers can link the command
// before the TypeScript build runs. (Kept out of Prettier: it would put a ';' into the sh line.)
import '../dist/src/bin.js';
