// ESLint for the page's modules (static/js, loaded unbundled by the browser) and their
// unit tests (tests/js, run by node --test).

import js from "@eslint/js";
import globals from "globals";

// The store's state object is reached as `state`, `store.state` or `this.state`; a write
// to it or to what it holds (up to three members deep) bypasses set() and the render that
// set() schedules (static/js/store.js).
const isState = (path) => [`[${path}name='state']`, `[${path}type='MemberExpression'][${path}property.name='state']`];
const within = (path) => [path, `${path}object.`, `${path}object.object.`].flatMap(isState).join(", ");
const WRITES = [
  `AssignmentExpression > MemberExpression.left:matches(${within("object.")})`,
  `UpdateExpression > MemberExpression.argument:matches(${within("object.")})`,
  `UnaryExpression[operator='delete'] > MemberExpression.argument:matches(${within("object.")})`,
  `CallExpression[callee.object.name='Object'][callee.property.name='assign']:matches(${within("arguments.0.")})`,
];
export const STORE_WRITE_MESSAGE = "The page's state changes only through store.set() (static/js/store.js).";

export default [
  // ESLint 10 skips node_modules/ only; a venv in the tree (as CI makes) holds other
  // packages' scripts
  { ignores: ["artifacts/", "build/", "dist/", "**/*.egg-info/", ".venv/", "venv/"] },
  js.configs.recommended,
  {
    files: ["static/**/*.js"],
    languageOptions: { ecmaVersion: 2025, sourceType: "module", globals: globals.browser },
  },
  {
    // classic scripts: the language before the first paint, and Swagger UI's start
    files: ["static/js/lang.js", "static/js/themeinit.js", "static/docs/*.js"],
    languageOptions: { sourceType: "script", globals: { ...globals.browser, SwaggerUIBundle: "readonly" } },
  },
  {
    files: ["static/js/**/*.js"],
    ignores: ["static/js/store.js"],
    rules: {
      "no-restricted-syntax": ["error", ...WRITES.map((selector) => ({ selector, message: STORE_WRITE_MESSAGE }))],
    },
  },
  {
    // one helper holds the error sentences, the token and the ETag handling of every call
    files: ["static/js/**/*.js"],
    ignores: ["static/js/api.js"],
    rules: {
      "no-restricted-globals": ["error", { name: "fetch", message: "Call the server through request() in api.js." }],
    },
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2025, sourceType: "module", globals: globals.node },
  },
];
