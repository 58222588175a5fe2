package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"heed/engine"
)

// The worker routes let heed worker processes plan and deliver for this
// heed: the store stays in this process (Badger is single-process), and a
// worker calls these for every step that reads or writes it, exactly as the
// in-process scheduler calls campaigns.Service. They are heed's own
// protocol, for an admin key only.

// workerNamespace is GET /v1/worker: what a worker needs to join.
type workerNamespace struct {
	Namespace string `json:"namespace"`
}

// A workerSend is a SendResult on the wire.
type workerSend struct {
	Key          string          `json:"key"`
	Error        string          `json:"error,omitempty"`
	RetryAt      time.Time       `json:"retry_at,omitzero"`
	Items        []engine.ItemID `json:"items,omitempty"`
	Personalized bool            `json:"personalized,omitempty"`
}

type workerPlan struct {
	Job    engine.PlanJob `json:"job"`
	After  engine.UserID  `json:"after,omitempty"`
	Upto   engine.UserID  `json:"upto,omitempty"`
	Chunks int            `json:"chunks,omitempty"`
}

type workerPlanned struct {
	Result   engine.PlanResult `json:"result"`
	Contacts []engine.Contact  `json:"contacts"`
}

type workerDue struct {
	Now   time.Time `json:"now"`
	Limit int       `json:"limit,omitempty"`
}

// workerOps is what the worker routes call; *campaigns.Service satisfies it.
type workerOps interface {
	Due(ctx context.Context, now time.Time) ([]engine.PlanJob, error)
	Bounds(ctx context.Context) ([]engine.UserID, error)
	Dispatched(ctx context.Context, job engine.PlanJob, chunks int) error
	PlanChunk(ctx context.Context, job engine.PlanJob, after, upto engine.UserID) (engine.PlanResult, error)
	Prepare(ctx context.Context, c engine.Contact) (engine.Outgoing, error)
	Finish(ctx context.Context, key string, res engine.SendResult) (engine.Delivery, error)
	DueDeliveries(ctx context.Context, t time.Time, limit int) ([]engine.Delivery, error)
}

func handleWorker(ops func() workerOps, namespace string, step string) gin.HandlerFunc {
	return func(c *gin.Context) {
		w := ops()
		if w == nil {
			fail(c, errNoCampaigns)
			return
		}
		ctx := c.Request.Context()
		switch step {
		case "info":
			c.JSON(http.StatusOK, workerNamespace{Namespace: namespace})
		case "due":
			var in workerDue
			if !bind(c, &in) {
				return
			}
			jobs, err := w.Due(ctx, in.Now)
			respond(c, map[string]any{"jobs": orEmpty(jobs)}, err)
		case "bounds":
			b, err := w.Bounds(ctx)
			respond(c, map[string]any{"bounds": orEmpty(b)}, err)
		case "dispatched":
			var in workerPlan
			if !bind(c, &in) {
				return
			}
			respond(c, map[string]any{}, w.Dispatched(ctx, in.Job, in.Chunks))
		case "plan":
			var in workerPlan
			if !bind(c, &in) {
				return
			}
			res, err := w.PlanChunk(ctx, in.Job, in.After, in.Upto)
			respond(c, workerPlanned{Result: res, Contacts: orEmpty(res.Contacts)}, err)
		case "prepare":
			var in engine.Contact
			if !bind(c, &in) {
				return
			}
			out, err := w.Prepare(ctx, in)
			respond(c, out, err)
		case "finish":
			var in workerSend
			if !bind(c, &in) {
				return
			}
			res := engine.SendResult{RetryAt: in.RetryAt, Items: in.Items, Personalized: in.Personalized}
			if in.Error != "" {
				res.Err = errors.New(in.Error)
			}
			d, err := w.Finish(ctx, in.Key, res)
			respond(c, d, err)
		case "sweep":
			var in workerDue
			if !bind(c, &in) {
				return
			}
			ds, err := w.DueDeliveries(ctx, in.Now, max(in.Limit, 1))
			respond(c, map[string]any{"deliveries": orEmpty(ds)}, err)
		}
	}
}

func bind(c *gin.Context, v any) bool {
	if err := decodeBody(c, v); err != nil {
		fail(c, err)
		return false
	}
	return true
}

func respond(c *gin.Context, v any, err error) {
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}
