package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"heed/engine"
)

type policyLister interface {
	Policies() (map[string]string, string)
}

type policySet struct {
	Revision string            `json:"revision"`
	Modules  map[string]string `json:"modules"`
}

// handlePolicyList returns the policy modules in force: GET /v1/policies.
func handlePolicyList(s policyLister) gin.HandlerFunc {
	return func(c *gin.Context) {
		mods, rev := s.Policies()
		if mods == nil {
			mods = map[string]string{}
		}
		c.JSON(http.StatusOK, policySet{Revision: rev, Modules: mods})
	}
}

type policyReplacer interface {
	ReplacePolicy(ctx context.Context, name, text string) (string, error)
}

// handlePolicyPut replaces one policy module, after the new set compiles
// and passes its Rego tests: PUT /v1/policies/:name. The body is the Rego
// text, or JSON {"rego": "..."} when sent as application/json.
func handlePolicyPut(s policyReplacer) gin.HandlerFunc {
	return func(c *gin.Context) {
		text, err := policyText(c)
		if err != nil {
			fail(c, err)
			return
		}
		rev, err := s.ReplacePolicy(c.Request.Context(), c.Param("name"), text)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"revision": rev})
	}
}

// policyModule is the JSON form of a PUT /v1/policies/:name body.
type policyModule struct {
	Rego string `json:"rego"`
}

func policyText(c *gin.Context) (string, error) {
	if mediaType(c) == "application/json" {
		var in policyModule
		if err := decodeBody(c, &in); err != nil {
			return "", err
		}
		if in.Rego == "" {
			return "", engine.Invalid("rego", "is required")
		}
		return in.Rego, nil
	}
	b, err := readBody(c)
	if err != nil {
		return "", err
	}
	if len(b) == 0 {
		return "", engine.Invalid("body", "is empty; want the module's Rego text")
	}
	return string(b), nil
}
