#!/usr/bin/env node
// The CLI is TypeScript run by Node 24's type stripping; `npm exec circle-ledger` and
// `npm run cli` put the project's pinned Node 24 first on the PATH.
import '../src/cli/main.ts'
