package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// schemasJSON holds the JSON-schema definitions of every body and
// parameter, by name; routes refer to them.
//
//go:embed schemas.json
var schemasJSON []byte

const schemaRef = "#/components/schemas/"

// openAPIHeaders are the response headers routes may name.
var openAPIHeaders = map[string]any{
	"ETag": map[string]any{
		"description": "The preferences' version as a strong entity tag, for If-Match.",
		"schema":      map[string]any{"type": "string", "examples": []string{`"3"`}},
	},
}

// openAPI generates the OpenAPI 3.1 document describing rs. It fails if a
// route names a schema or header that is not defined.
func openAPI(rs []route) ([]byte, error) {
	var schemas map[string]any
	if err := json.Unmarshal(schemasJSON, &schemas); err != nil {
		return nil, fmt.Errorf("schemas.json: %w", err)
	}
	ref := func(name string) (map[string]any, error) {
		if _, ok := schemas[name]; !ok {
			return nil, fmt.Errorf("schema %q is not in schemas.json", name)
		}
		return map[string]any{"$ref": schemaRef + name}, nil
	}
	paths := map[string]map[string]any{}
	var tags []string
	for _, rt := range rs {
		op, err := operation(rt, ref)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", rt.method, rt.path, err)
		}
		p := openAPIPath(rt.path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(rt.method)] = op
		if !slices.Contains(tags, rt.tag) {
			tags = append(tags, rt.tag)
		}
	}
	var tagList []map[string]string
	for _, t := range tags {
		tagList = append(tagList, map[string]string{"name": t})
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "heed",
			"version": "1",
			"description": "Consent-aware personalization. Every /v1 request is decided by the Rego policy " +
				"(its authz action is x-heed-action); errors are RFC 9457 problem JSON. The consent ledger is " +
				"append-only: PUT, PATCH and DELETE on consent paths answer 405.",
		},
		"tags":     tagList,
		"security": []map[string][]string{{"bearer": {}}},
		"paths":    paths,
		"components": map[string]any{
			"schemas": schemas,
			"headers": openAPIHeaders,
			"securitySchemes": map[string]any{"bearer": map[string]any{
				"type": "http", "scheme": "bearer",
				"description": "An API key (admin, storefront, merchandiser, marketing) or a shopper token (hst_...).",
			}},
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

// openAPIPath turns a gin path (/v1/users/:id) into an OpenAPI one
// (/v1/users/{id}).
func openAPIPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			segs[i] = "{" + name + "}"
		}
	}
	return strings.Join(segs, "/")
}

// pathParams lists a gin path's parameter names.
func pathParams(p string) []string {
	var names []string
	for s := range strings.SplitSeq(p, "/") {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			names = append(names, name)
		}
	}
	return names
}

// paramDocs describes path parameters by name; the :id of /v1/decisions
// is a decision's, and that of /v1/campaigns a campaign's.
var paramDocs = map[string]string{
	"id":       "The user's id, chosen by the storefront.",
	"decision": "A decision id.",
	"type":     "The identity type.",
	"value":    "The identity value.",
	"record":   "A consent record id.",
	"purpose":  "A consent purpose.",
	"tag":      "An interest tag, such as category:shoes.",
	"name":     "A policy module name.",
	"campaign": "A campaign id.",
	"token":    "The token of an unsubscribe link, as the message carried it.",
}

func operation(rt route, ref func(string) (map[string]any, error)) (map[string]any, error) {
	op := map[string]any{"operationId": rt.id, "summary": rt.summary, "tags": []string{rt.tag}}
	if rt.action != "" {
		op["x-heed-action"] = rt.action
		if rt.owner != "" {
			op["x-heed-owner"] = rt.owner
		}
	} else {
		op["security"] = []any{}
	}
	if rt.owner != "" && !slices.Contains(pathParams(rt.path), rt.owner) {
		return nil, fmt.Errorf("owner %q is not a path parameter", rt.owner)
	}
	var params []map[string]any
	for _, name := range pathParams(rt.path) {
		doc := paramDocs[name]
		switch {
		case name == "id" && strings.HasPrefix(rt.path, "/v1/decisions/"):
			doc = paramDocs["decision"]
		case name == "id" && strings.HasPrefix(rt.path, "/v1/campaigns/"):
			doc = paramDocs["campaign"]
		}
		params = append(params, map[string]any{"name": name, "in": "path", "required": true,
			"description": doc, "schema": map[string]any{"type": "string"}})
	}
	for _, p := range rt.params {
		s, err := ref(p.schema)
		if err != nil {
			return nil, err
		}
		m := map[string]any{"name": p.name, "in": p.in, "required": p.required, "schema": s}
		if p.desc != "" {
			m["description"] = p.desc
		}
		params = append(params, m)
	}
	if params != nil {
		op["parameters"] = params
	}
	if rt.body != nil {
		content, err := contentOf(rt.body, ref)
		if err != nil {
			return nil, err
		}
		op["requestBody"] = map[string]any{"required": !rt.optional, "content": content}
	}

	success := map[string]any{"description": http.StatusText(rt.status)}
	if rt.resp != nil {
		content, err := contentOf(rt.resp, ref)
		if err != nil {
			return nil, err
		}
		success["content"] = content
	}
	if rt.headers != nil {
		hs := map[string]any{}
		for _, h := range rt.headers {
			if _, ok := openAPIHeaders[h]; !ok {
				return nil, fmt.Errorf("header %q is not in openAPIHeaders", h)
			}
			hs[h] = map[string]any{"$ref": "#/components/headers/" + h}
		}
		success["headers"] = hs
	}
	responses := map[string]any{strconv.Itoa(rt.status): success}
	problem, err := ref("Problem")
	if err != nil {
		return nil, err
	}
	for _, code := range errorStatuses(rt) {
		responses[strconv.Itoa(code)] = map[string]any{"description": http.StatusText(code),
			"content": map[string]any{"application/problem+json": map[string]any{"schema": problem}}}
	}
	responses["default"] = map[string]any{"description": "Unexpected error",
		"content": map[string]any{"application/problem+json": map[string]any{"schema": problem}}}
	op["responses"] = responses
	return op, nil
}

// errorStatuses lists the problem statuses a route can answer: those its
// shape implies, and its own.
func errorStatuses(rt route) []int {
	codes := slices.Clone(rt.errors)
	if rt.action != "" {
		codes = append(codes, http.StatusUnauthorized, http.StatusForbidden)
	}
	if rt.owner != "" {
		codes = append(codes, http.StatusNotFound)
	}
	if rt.body != nil {
		codes = append(codes, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
	}
	if rt.params != nil {
		codes = append(codes, http.StatusBadRequest)
	}
	slices.Sort(codes)
	return slices.Compact(codes)
}

func contentOf(ms []media, ref func(string) (map[string]any, error)) (map[string]any, error) {
	content := map[string]any{}
	for _, m := range ms {
		s, err := ref(m.schema)
		if err != nil {
			return nil, err
		}
		content[m.typ] = map[string]any{"schema": s}
	}
	return content, nil
}
