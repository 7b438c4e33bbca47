// Creates, lists, serves and deletes an API with the npm `openwhisk` client's `routes`, unchanged, the way an
// application would; the gateway URL it answers is fetched as a browser or curl would.
// Prints one JSON object with what it saw; the pytest side checks it.
const openwhisk = require('openwhisk');

async function main() {
  const [apihost, apiKey, name] = process.argv.slice(2);
  const ow = openwhisk({ apihost, api_key: apiKey });
  const code = "function main(args) {\n" +
    "  return { statusCode: 200, headers: { 'Content-Type': 'application/json' },\n" +
    "           body: { path: args.__ow_path, isbn: args.isbn, method: args.__ow_method, q: args.q } };\n}\n";
  const basepath = `/${name}`;
  const seen = {};
  await ow.actions.create({ name, action: code, kind: 'nodejs:default',
                            annotations: { 'web-export': true } });
  seen.created = await ow.routes.create({ basepath, relpath: '/books/{isbn}', operation: 'GET', action: name,
                                          responsetype: 'http', name: 'Book Club' });
  seen.second = await ow.routes.create({ basepath, relpath: '/books', operation: 'POST', action: name });
  seen.listed = await ow.routes.list();
  seen.got = await ow.routes.get({ basepath });
  seen.byName = await ow.routes.get({ name: 'Book Club' });
  const url = seen.created.gwApiUrl + '/books/978-0?q=npm';
  const served = await fetch(url);
  seen.served = { status: served.status, body: await served.json(), activationId: served.headers.get('x-openwhisk-activation-id') };
  seen.deletedOne = await ow.routes.delete({ basepath, relpath: '/books/{isbn}', operation: 'GET' });
  seen.afterDeleteOne = (await fetch(url)).status;
  seen.deleted = await ow.routes.delete({ basepath });
  seen.afterDelete = await ow.routes.list();
  try {
    await ow.routes.delete({ basepath });
  } catch (err) {
    seen.missingError = { statusCode: err.statusCode, message: err.message };
  }
  await ow.actions.delete({ name });
  console.log(JSON.stringify(seen));
}

main().catch(err => { console.error(err.stack || String(err)); process.exit(1); });
