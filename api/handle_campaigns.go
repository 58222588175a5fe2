package api

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"heed/campaigns"
	"heed/engine"
)

// campaignService is what the campaign routes need; *campaigns.Service
// satisfies it. Each handler takes the one method it calls.
type campaignService interface {
	campaignCreator
	campaignGetter
	campaignLister
	campaignUpdater
	campaignDeleter
	campaignTransitioner
	campaignPreviewer
	campaignRunner
	campaignRunLister
	campaignStatser
	deliveryLister
}

var _ campaignService = (*campaigns.Service)(nil)

// errNoCampaigns answers the campaign routes of a server built without
// campaigns (Config.Campaigns nil).
var errNoCampaigns = fmt.Errorf("%w: this server does not run campaigns", engine.ErrUnavailable)

// campaignsReady fails the request with errNoCampaigns when s is nil.
func campaignsReady(c *gin.Context, s any) bool {
	if s == nil {
		fail(c, errNoCampaigns)
		return false
	}
	return true
}

// campaignID is the :id path parameter as a campaign id.
func campaignID(c *gin.Context) string { return c.Param("id") }

type campaignList struct {
	Campaigns []campaigns.Campaign `json:"campaigns"`
}

type runList struct {
	Runs []campaigns.Run `json:"runs"`
}

type deliveryPage struct {
	Deliveries []engine.Delivery `json:"deliveries"`
	NextCursor string            `json:"next_cursor"`
}

// campaignDate is the optional body of preview and run.
type campaignDate struct {
	Date string `json:"date"`
}

type campaignCreator interface {
	Create(ctx context.Context, c campaigns.Campaign) (campaigns.Campaign, error)
}

// handleCampaignCreate stores a new draft campaign: POST /v1/campaigns. The
// members heed sets (id, status, version and the times) are ignored.
func handleCampaignCreate(s campaignCreator) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !campaignsReady(c, s) {
			return
		}
		var in campaigns.Campaign
		if err := decodeBody(c, &in); err != nil {
			fail(c, err)
			return
		}
		out, err := s.Create(c.Request.Context(), in)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusCreated, out)
	}
}

type campaignLister interface {
	List(ctx context.Context) ([]campaigns.Campaign, error)
}

// handleCampaignList lists every campaign: GET /v1/campaigns.
func handleCampaignList(s campaignLister) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !campaignsReady(c, s) {
			return
		}
		cs, err := s.List(c.Request.Context())
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, campaignList{orEmpty(cs)})
	}
}

type campaignGetter interface {
	Get(ctx context.Context, id string) (campaigns.Campaign, error)
}

// handleCampaignGet returns one campaign: GET /v1/campaigns/:id.
func handleCampaignGet(s campaignGetter) gin.HandlerFunc {
	return campaignValue(s, func(ctx context.Context, id string) (campaigns.Campaign, error) { return s.Get(ctx, id) })
}

// campaignValue serves a GET route that answers read's value about the
// campaign :id; s is the service read calls (nil: campaigns are off).
func campaignValue[T any](s any, read func(ctx context.Context, id string) (T, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !campaignsReady(c, s) {
			return
		}
		out, err := read(c.Request.Context(), campaignID(c))
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, out)
	}
}

type campaignUpdater interface {
	Update(ctx context.Context, id string, c campaigns.Campaign, ifMatch int) (campaigns.Campaign, error)
}

// handleCampaignPut replaces a campaign's definition, if its version still
// matches If-Match when given: PUT /v1/campaigns/:id.
func handleCampaignPut(s campaignUpdater) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !campaignsReady(c, s) {
			return
		}
		version, err := ifMatch(c)
		if err != nil {
			fail(c, err)
			return
		}
		if version == 0 { // versions start at 1: "0" never matches
			fail(c, fmt.Errorf("campaign is never at version 0: %w", engine.ErrStale))
			return
		}
		var in campaigns.Campaign
		if err := decodeBody(c, &in); err != nil {
			fail(c, err)
			return
		}
		out, err := s.Update(c.Request.Context(), campaignID(c), in, max(version, 0))
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, out)
	}
}

type campaignDeleter interface {
	Delete(ctx context.Context, id string) error
}

// handleCampaignDelete deletes a campaign that is not active:
// DELETE /v1/campaigns/:id.
func handleCampaignDelete(s campaignDeleter) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !campaignsReady(c, s) {
			return
		}
		if err := s.Delete(c.Request.Context(), campaignID(c)); err != nil {
			fail(c, err)
			return
		}
		noContent(c)
	}
}

type campaignTransitioner interface {
	Transition(ctx context.Context, id string, to campaigns.Status) (campaigns.Campaign, error)
}

// handleCampaignTransition moves a campaign to status to:
// POST /v1/campaigns/:id/activate, /pause and /end.
func handleCampaignTransition(s campaignTransitioner, to campaigns.Status) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !campaignsReady(c, s) {
			return
		}
		out, err := s.Transition(c.Request.Context(), campaignID(c), to)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, out)
	}
}

// optionalDate decodes an optional {"date"} body; an empty body is no
// date.
func optionalDate(c *gin.Context) (string, error) {
	b, err := readBody(c)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return "", err
	}
	var in campaignDate
	if err := engine.DecodeJSON(b, &in); err != nil {
		return "", err
	}
	return in.Date, nil
}

type campaignPreviewer interface {
	Preview(ctx context.Context, id, date string) (campaigns.Preview, error)
}

// handleCampaignPreview evaluates a run now without sending anything:
// POST /v1/campaigns/:id/preview.
func handleCampaignPreview(s campaignPreviewer) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !campaignsReady(c, s) {
			return
		}
		date, err := optionalDate(c)
		if err != nil {
			fail(c, err)
			return
		}
		pv, err := s.Preview(c.Request.Context(), campaignID(c), date)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, pv)
	}
}

type campaignRunner interface {
	RunNow(ctx context.Context, id, date string) (campaigns.Run, error)
}

// dispatchTimeout bounds queueing a run's planning from a request.
const dispatchTimeout = 30 * time.Second

// handleCampaignRun starts one occurrence of a campaign now and hands it to
// dispatch: POST /v1/campaigns/:id/run. A failed dispatch is logged, not
// answered: the run is stored, and the planner hands out runs left
// undispatched.
func handleCampaignRun(s campaignRunner, dispatch func(context.Context, engine.PlanJob) error, log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !campaignsReady(c, s) {
			return
		}
		date, err := optionalDate(c)
		if err != nil {
			fail(c, err)
			return
		}
		r, err := s.RunNow(c.Request.Context(), campaignID(c), date)
		if err != nil {
			fail(c, err)
			return
		}
		if dispatch != nil {
			// The run exists now: queue it even if the client goes away.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), dispatchTimeout)
			job := engine.PlanJob{Campaign: r.Campaign, Run: r.ID, Label: r.Label, Now: r.Now}
			if err := dispatch(ctx, job); err != nil {
				log.WarnContext(ctx, "campaign run stored but not queued; the planner queues it later",
					"request_id", requestID(c), "campaign_id", r.Campaign, "run_id", r.ID, "err", err)
			}
			cancel()
		}
		c.JSON(http.StatusAccepted, r)
	}
}

type campaignRunLister interface {
	campaignGetter
	Runs(ctx context.Context, id string) ([]campaigns.Run, error)
}

// handleCampaignRuns lists a campaign's runs, oldest first:
// GET /v1/campaigns/:id/runs. An unknown campaign is a 404.
func handleCampaignRuns(s campaignRunLister) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !campaignsReady(c, s) {
			return
		}
		if _, err := s.Get(c.Request.Context(), campaignID(c)); err != nil {
			fail(c, err)
			return
		}
		rs, err := s.Runs(c.Request.Context(), campaignID(c))
		if err != nil {
			fail(c, err)
			return
		}
		for i := range rs {
			if rs[i].Suppressed == nil {
				rs[i].Suppressed = map[string]int{}
			}
		}
		c.JSON(http.StatusOK, runList{orEmpty(rs)})
	}
}

type campaignStatser interface {
	Stats(ctx context.Context, id string) (campaigns.Stats, error)
}

// handleCampaignStats returns a campaign's results: GET /v1/campaigns/:id/stats.
func handleCampaignStats(s campaignStatser) gin.HandlerFunc {
	return campaignValue(s, func(ctx context.Context, id string) (campaigns.Stats, error) { return s.Stats(ctx, id) })
}

type deliveryLister interface {
	Deliveries(ctx context.Context, id string, f campaigns.DeliveryFilter, cursor string, limit int) ([]engine.Delivery, string, error)
}

// deliveryStatuses lists the statuses ?status= accepts.
var deliveryStatuses = []engine.DeliveryStatus{engine.DeliveryScheduled, engine.DeliverySending, engine.DeliverySent,
	engine.DeliverySuppressed, engine.DeliveryDeferred, engine.DeliveryFailed}

// Bounds of ?limit= on the deliveries route.
const (
	defaultDeliveryLimit = 100
	maxDeliveryLimit     = 500
)

// handleCampaignDeliveries returns one page of a campaign's delivery
// ledger: GET /v1/campaigns/:id/deliveries?user_id=&status=&cursor=&limit=.
func handleCampaignDeliveries(s deliveryLister) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !campaignsReady(c, s) {
			return
		}
		f := campaigns.DeliveryFilter{User: engine.UserID(c.Query("user_id")), Status: engine.DeliveryStatus(c.Query("status"))}
		if f.Status != "" && !slices.Contains(deliveryStatuses, f.Status) {
			fail(c, engine.Invalid("status", "unknown delivery status %q; want one of %v", f.Status, deliveryStatuses))
			return
		}
		if f.User != "" {
			if err := f.User.Validate(); err != nil {
				fail(c, engine.Prefixed(err, "user_")) // "id" becomes "user_id"
				return
			}
		}
		limit, err := queryInt(c, "limit", defaultDeliveryLimit)
		if err != nil {
			fail(c, err)
			return
		}
		if limit < 1 || limit > maxDeliveryLimit {
			fail(c, engine.Invalid("limit", "must be between 1 and %d", maxDeliveryLimit))
			return
		}
		ds, next, err := s.Deliveries(c.Request.Context(), campaignID(c), f, c.Query("cursor"), limit)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, deliveryPage{Deliveries: orEmpty(ds), NextCursor: next})
	}
}
