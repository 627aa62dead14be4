// Package client is a typed Go client for resellers of the Husky order
// service: submit an order, read and list orders, cancel, follow an
// order's events, manage the reseller's webhook endpoint. It is generated
// from the service's OpenAPI document (app/openapi.json) by oapi-codegen;
// docs/api.md shows its use.
package client

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../app/openapi.json
