#!/usr/bin/env node
// The npm `soap` client on a served WSDL: `node client.js WSDL_URL CALLS_JSON`, where CALLS_JSON is a JSON
// list of {"operation": name, "args": {...}}. Prints one JSON list: per call {"result": what the client
// parsed} or {"fault": {"code", "message", "type"}} — the view a Node.js user of the service gets.
'use strict';
const soap = require('soap');

function fault(error) {
  const body = error.root && error.root.Envelope && error.root.Envelope.Body;
  const f = body && body.Fault;
  if (!f) throw error;
  const detail = f.detail && f.detail.error;
  return {code: f.faultcode, message: f.faultstring, type: detail && detail.attributes && detail.attributes.type};
}

async function main([wsdl, calls]) {
  const client = await soap.createClientAsync(wsdl);
  const results = [];
  for (const {operation, args} of JSON.parse(calls)) {
    const method = client[`${operation}Async`];
    if (!method) throw new Error(`the WSDL has no operation ${operation}`);
    try {
      const [result] = await method.call(client, args || {});
      results.push({result});
    } catch (error) {
      results.push({fault: fault(error)});
    }
  }
  process.stdout.write(JSON.stringify(results));
}

main(process.argv.slice(2)).catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
