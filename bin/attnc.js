#!/usr/bin/env node
import { run } from "../dist/bundle/attnc.mjs";

process.exitCode = await run(process.argv.slice(2));
