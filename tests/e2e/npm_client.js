// Drives Squall with the npm `openwhisk` client, unchanged, the way an application would.
// Prints one JSON object with what it saw; the pytest side checks it.
const openwhisk = require('openwhisk');

async function main() {
  const [apihost, apiKey, name] = process.argv.slice(2);
  const ow = openwhisk({ apihost, api_key: apiKey });
  const code = "def main(args):\n    print('from npm')\n    return {'greeting': 'Hello ' + args.get('name', 'stranger')}\n";
  const seen = {};
  seen.created = await ow.actions.create({ name, action: code, kind: 'python:default' });
  seen.blocking = await ow.actions.invoke({ name, blocking: true, result: true, params: { name: 'npm' } });
  const full = await ow.actions.invoke({ name, blocking: true, params: { name: 'full' } });
  seen.fullStatus = full.response.status;
  seen.nonBlocking = await ow.actions.invoke({ name, params: { name: 'later' } });
  seen.listed = (await ow.actions.list()).map(a => a.name);
  seen.activation = await waitFor(ow, seen.nonBlocking.activationId);
  seen.activationList = (await ow.activations.list({ name, limit: 10 })).map(a => a.activationId);
  seen.logs = await ow.activations.logs({ name: full.activationId });
  seen.result = await ow.activations.result({ name: full.activationId });
  try {
    await ow.actions.get({ name: name + '-missing' });
  } catch (err) {
    seen.missingError = { statusCode: err.statusCode, message: err.message };
  }
  seen.deleted = await ow.actions.delete({ name });
  console.log(JSON.stringify(seen));
}

async function waitFor(ow, activationId) {
  const deadline = Date.now() + 30000;
  for (;;) {
    try {
      const record = await ow.activations.get({ name: activationId });
      // The action prints a line: until the stored record is read, the answer may come from the result
      // backend, whose logs are still empty (and [] is truthy).
      if (record.logs && record.logs.length > 0) return record;
      if (Date.now() > deadline) throw new Error('no stored record for ' + activationId);
    } catch (err) {
      if (err.statusCode !== 404 || Date.now() > deadline) throw err;
    }
    await new Promise(resolve => setTimeout(resolve, 100));
  }
}

main().catch(err => { console.error(err.stack || String(err)); process.exit(1); });
