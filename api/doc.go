// Package api is heed's HTTP layer (gin): authentication, authorization by
// the Rego policy, JSON in and RFC 9457 problem JSON out, metrics and the
// OpenAPI document.
//
// routes.go lists the whole surface in one table; the OpenAPI document
// served at /openapi.json is generated from that table and the JSON-schema
// definitions in schemas.json, so every route is described by construction.
// Handlers live in handle_<noun>.go as maker funcs that call engine.Service;
// they report failures with c.Error and the problems middleware turns the
// error kind into a status code (problems.go holds the one table).
//
// Access logs and metrics carry the route template (/v1/users/:id), never
// the raw path, which holds user ids.
package api
