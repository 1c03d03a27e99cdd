'use strict';
// ES module handlers (nodejs18 and later). A module of its own because `import()` is a syntax
// error on the Node versions of older runtimes, which load agent.js too.

const url = require('url');

function importFile(file) {
  return import(url.pathToFileURL(file).href);
}

module.exports = { importFile };
