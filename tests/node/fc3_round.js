// The FC 3.0 Node SDK (@alicloud/fc20230330) through a create / invoke / HTTP-trigger round against a
// running emulator. Usage: node fc3_round.js <endpoint host:port> <account> <function name> <zip base64 file>
// Prints one JSON line: what each call returned, as the SDK's models deserialised it.
'use strict';
const fs = require('fs');
const http = require('http');
const FC = require('@alicloud/fc20230330');
const { $OpenApiUtil } = require('@alicloud/openapi-core');

const [endpoint, account, name, zipFile] = process.argv.slice(2);
const Client = FC.default;
const client = new Client(new $OpenApiUtil.Config({
  accessKeyId: process.env.FC_AK_ID, accessKeySecret: process.env.FC_AK_SECRET,
  endpoint, protocol: 'http', regionId: 'cn-hangzhou', readTimeout: 60000,
}));
// FC 3.0 takes the account from X-Fc-Account-Id when the Host names none: each test has its own.
const callApi = client.callApi.bind(client);
client.callApi = (params, req, runtime) => {
  req.headers = { ...(req.headers || {}), 'x-fc-account-id': account };
  return callApi(params, req, runtime);
};

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject);
  });
}

async function main() {
  const out = {};
  const created = await client.createFunction(new FC.CreateFunctionRequest({
    body: new FC.CreateFunctionInput({
      functionName: name, runtime: 'python3.10', handler: 'index.handler', memorySize: 256, timeout: 10,
      environmentVariables: { GREETING: 'hi' },
      code: new FC.InputCodeLocation({ zipFile: fs.readFileSync(zipFile, 'utf8').trim() }),
    }),
  }));
  out.created = { status: created.statusCode, isFunction: created.body instanceof FC.Function,
    functionName: created.body.functionName, memorySize: created.body.memorySize, arn: created.body.functionArn };
  const got = await client.getFunction(name, new FC.GetFunctionRequest({}));
  out.got = { runtime: got.body.runtime, env: got.body.environmentVariables, checksum: got.body.codeChecksum };

  const inv = await client.invokeFunctionWithOptions(name, new FC.InvokeFunctionRequest({
    body: require('stream').Readable.from([Buffer.from('world')]),
  }), new FC.InvokeFunctionHeaders({ xFcLogType: 'Tail' }), {});
  const chunks = [];
  for await (const c of inv.body) chunks.push(c);
  out.invoked = { status: inv.statusCode, body: Buffer.concat(chunks).toString(),
    log: Buffer.from(inv.headers['x-fc-log-result'] || '', 'base64').toString() };

  const trig = await client.createTrigger(name, new FC.CreateTriggerRequest({
    body: new FC.CreateTriggerInput({
      triggerName: 'web', triggerType: 'http', qualifier: 'LATEST',
      triggerConfig: JSON.stringify({ authType: 'anonymous', methods: ['GET', 'POST'] }),
    }),
  }));
  out.trigger = { status: trig.statusCode, isTrigger: trig.body instanceof FC.Trigger,
    config: trig.body.triggerConfig, url: trig.body.httpTrigger.urlInternet };
  const page = await get(`${trig.body.httpTrigger.urlInternet}/some/path?x=1`);
  out.http = page;

  try {
    await client.getFunction('no-such-fn', new FC.GetFunctionRequest({}));
    out.missing = null;
  } catch (e) {
    out.missing = { code: e.code, statusCode: e.statusCode, requestId: e.data && e.data.RequestId,
      message: e.message };
  }
  await client.deleteTrigger(name, 'web');
  const deleted = await client.deleteFunction(name);
  out.deleted = deleted.statusCode;
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { process.stderr.write(`${e.stack || e}\n`); process.exit(1); });
