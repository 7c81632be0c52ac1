#!/usr/bin/env node
// `rtcmon` straight from the TypeScript sources (tsx loader), for tests and benchmarks in a checkout: what
// they start is always the code on disk, never a build. src/stack/servers/role.ts starts roles with this
// when it runs as TypeScript itself; compiled, it starts bin/rtcmon. Works from any directory.
import { register } from 'tsx/esm/api';

register();
process.setSourceMapsEnabled(true);
await import('../src/cli.ts');
