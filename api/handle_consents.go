package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"heed/engine"
)

type consentRecorder interface {
	RecordConsents(ctx context.Context, id engine.UserID, records []engine.ConsentRecord) ([]engine.ConsentRecord, error)
}

// consentInput is one record as a client submits it: ids and recording
// times are heed's to set.
type consentInput struct {
	Purpose       engine.Purpose    `json:"purpose"`
	Channel       engine.Channel    `json:"channel"`
	Signal        engine.Signal     `json:"signal"`
	Recipient     string            `json:"recipient"`
	Touchpoint    engine.Touchpoint `json:"touchpoint"`
	Status        engine.Status     `json:"status"`
	NoticeVersion string            `json:"notice_version"`
	Source        string            `json:"source"`
	Actor         string            `json:"actor"`
	Evidence      json.RawMessage   `json:"evidence"`
	ExpiresAt     time.Time         `json:"expires_at"`
}

func (in consentInput) record() engine.ConsentRecord {
	ev := in.Evidence
	if string(ev) == "null" {
		ev = nil
	}
	return engine.ConsentRecord{Purpose: in.Purpose, Channel: in.Channel, Signal: in.Signal,
		Recipient: in.Recipient, Touchpoint: in.Touchpoint, Status: in.Status,
		NoticeVersion: in.NoticeVersion, Source: in.Source, Actor: in.Actor,
		Evidence: ev, ExpiresAt: in.ExpiresAt}
}

// consentBatch is a POST /v1/users/:id/consents body; each record is
// decoded on its own, to name its fields by index.
type consentBatch struct {
	Records []json.RawMessage `json:"records"`
}

type consentRecords struct {
	Records []engine.ConsentRecord `json:"records"`
}

// decodeConsentBatch decodes {"records": [...]}, naming a bad record's
// fields by its index ("records[2].channel"). Every record's problems are
// reported, not only the first's.
func decodeConsentBatch(c *gin.Context) ([]engine.ConsentRecord, error) {
	var batch consentBatch
	if err := decodeBody(c, &batch); err != nil {
		return nil, err
	}
	out := make([]engine.ConsentRecord, len(batch.Records))
	var all engine.ValidationError
	for i, raw := range batch.Records {
		var in consentInput
		err := engine.DecodeJSON(raw, &in)
		if err == nil {
			out[i] = in.record()
			continue
		}
		var verr *engine.ValidationError
		if !errors.As(engine.Prefixed(err, fmt.Sprintf("records[%d].", i)), &verr) {
			return nil, err
		}
		all.Problems = append(all.Problems, verr.Problems...)
	}
	if len(all.Problems) > 0 {
		return nil, &all
	}
	return out, nil
}

// handleConsentAppend appends a batch of records to a user's ledger, all or
// none: POST /v1/users/:id/consents.
func handleConsentAppend(s consentRecorder) gin.HandlerFunc {
	return func(c *gin.Context) {
		records, err := decodeConsentBatch(c)
		if err != nil {
			fail(c, err)
			return
		}
		stored, err := s.RecordConsents(c.Request.Context(), userID(c), records)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, consentRecords{Records: stored})
	}
}

type effectiveConsenter interface {
	EffectiveConsents(ctx context.Context, id engine.UserID) ([]engine.EffectiveConsent, error)
}

// handleConsentEffective returns the consent in force at every scope a
// user's ledger names: GET /v1/users/:id/consents.
func handleConsentEffective(s effectiveConsenter) gin.HandlerFunc {
	return func(c *gin.Context) {
		eff, err := s.EffectiveConsents(c.Request.Context(), userID(c))
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"effective": orEmpty(eff)})
	}
}

type consentChecker interface {
	CheckConsent(ctx context.Context, id engine.UserID, q engine.Scope) (engine.ConsentResult, engine.Decision, error)
}

type consentCheck struct {
	engine.ConsentResult
	DecisionID string `json:"decision_id"`
}

// handleConsentCheck asks the consent policy whether a user's ledger allows
// a use now: GET /v1/users/:id/consents/check?purpose=&channel=&signal=&recipient=&touchpoint=.
func handleConsentCheck(s consentChecker) gin.HandlerFunc {
	return func(c *gin.Context) {
		q := engine.Scope{
			Purpose:    engine.Purpose(c.Query("purpose")),
			Channel:    engine.Channel(c.Query("channel")),
			Signal:     engine.Signal(c.Query("signal")),
			Recipient:  c.Query("recipient"),
			Touchpoint: engine.Touchpoint(c.Query("touchpoint")),
		}
		res, d, err := s.CheckConsent(c.Request.Context(), userID(c), q)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, consentCheck{ConsentResult: res, DecisionID: d.ID})
	}
}

type consentHistorian interface {
	ConsentHistory(ctx context.Context, id engine.UserID) ([]engine.ConsentRecord, error)
}

// handleConsentHistory returns every record of a user's ledger, oldest
// first: GET /v1/users/:id/consents/history.
func handleConsentHistory(s consentHistorian) gin.HandlerFunc {
	return func(c *gin.Context) {
		records, err := s.ConsentHistory(c.Request.Context(), userID(c))
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, consentRecords{Records: orEmpty(records)})
	}
}

// handleConsentRecord returns one record of a user's ledger:
// GET /v1/users/:id/consents/:record. Records are never changed or deleted
// through the API, so other methods on this path are 405.
func handleConsentRecord(s consentHistorian) gin.HandlerFunc {
	return func(c *gin.Context) {
		records, err := s.ConsentHistory(c.Request.Context(), userID(c))
		if err != nil {
			fail(c, err)
			return
		}
		for _, r := range records {
			if r.ID == c.Param("record") {
				c.JSON(http.StatusOK, r)
				return
			}
		}
		fail(c, fmt.Errorf("consent record %q: %w", c.Param("record"), engine.ErrNotFound))
	}
}
