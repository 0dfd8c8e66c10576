#!/usr/bin/env node
console.log("edgetune");
