// Loaded by app.js with a relative importScripts.
self.helper = names => names.sort().join(',')
