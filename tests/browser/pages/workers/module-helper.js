export const names = exports => Object.keys(exports).sort().join(',')
