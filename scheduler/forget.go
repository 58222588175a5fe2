package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hibiken/asynq"

	"heed/engine"
)

// typeForget takes erased users out of the delivery tasks waiting in Redis.
const typeForget = "heed:forget"

type forgetPayload struct {
	Users []engine.UserID `json:"u"`
}

// forgetPage is how many tasks one listing reads.
const forgetPage = 500

// queueForget queues the removal of users, just erased, from the delivery
// tasks waiting in Redis, so that their ids do not outlive the erasure
// there. The erasure has removed their ledger entries already, so such a
// task would send them nothing; it would only keep the id until it ran,
// days later for a deferred message. A worker takes the users out of
// every pending, scheduled and retried delivery task (each other contact
// keeps its task and time) and deletes archived ones that name them; it
// looks again Options.ForgetAgain later.
func (s *Scheduler) queueForget(ctx context.Context, users ...engine.UserID) error {
	if len(users) == 0 {
		return nil
	}
	for _, after := range []time.Duration{0, s.opts.ForgetAgain} {
		if err := s.enqueue(ctx, typeForget, forgetPayload{Users: users}, asynq.Queue(s.queue("plan")),
			asynq.ProcessIn(after), asynq.MaxRetry(10), asynq.Timeout(10*time.Minute)); err != nil {
			return err
		}
	}
	return nil
}

// Erased tells the scheduler that a user was erased: it drains
// Options.Erasures now rather than at its next look. It does not block.
func (s *Scheduler) Erased() {
	select {
	case s.erased <- struct{}{}:
	default:
	}
}

// drainErasures queues the forgetting of the users Options.Erasures
// lists, when woken by Erased and every PlanEvery, until ctx is done.
func (s *Scheduler) drainErasures(ctx context.Context) {
	t := time.NewTicker(s.opts.PlanEvery)
	defer t.Stop()
	for {
		for {
			ids, err := s.opts.Erasures.ErasedToForget(ctx, forgetPage)
			if err == nil && len(ids) > 0 {
				if err = s.queueForget(ctx, ids...); err == nil {
					err = s.opts.Erasures.Forgotten(ctx, ids)
				}
			}
			if err != nil && ctx.Err() == nil {
				// Tried again at the next look. (Redis's and Badger's
				// errors name no user.)
				s.log.WarnContext(ctx, "scheduler: erased users wait to be taken out of the queued deliveries", "err", err)
			}
			if err != nil || len(ids) < forgetPage {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.erased:
		case <-t.C:
		}
	}
}

func (s *Scheduler) handleForget(ctx context.Context, t *asynq.Task) error {
	var p forgetPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("%w: bad forget payload: %v", asynq.SkipRetry, err)
	}
	n, err := s.forget(ctx, p.Users)
	if err != nil {
		return fmt.Errorf("forget erased users: %w", err)
	}
	s.log.InfoContext(ctx, "scheduler: erased users taken out of the queued deliveries", "users", len(p.Users), "tasks", n)
	return nil
}

// forget rewrites, or deletes, each waiting delivery task that names one
// of users, and returns how many it changed. The task without them is
// queued before the old one is deleted: a crash in between leaves both,
// and the ledger makes the second run of a contact harmless. A task
// already running cannot be deleted; it finds no entry for the erased
// users and is gone once done.
func (s *Scheduler) forget(ctx context.Context, users []engine.UserID) (int, error) {
	q := s.queue("deliver")
	lists := []struct {
		list     func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error)
		archived bool
	}{
		{s.inspector.ListPendingTasks, false},
		{s.inspector.ListScheduledTasks, false},
		{s.inspector.ListRetryTasks, false},
		{s.inspector.ListArchivedTasks, true},
	}
	type hit struct {
		task     *asynq.TaskInfo
		payload  deliverPayload
		archived bool
	}
	var hits []hit
	for _, l := range lists {
		for page := 1; ; page++ {
			ts, err := l.list(q, asynq.Page(page), asynq.PageSize(forgetPage))
			if errors.Is(err, asynq.ErrQueueNotFound) {
				break
			}
			if err != nil {
				return 0, err
			}
			for _, ti := range ts {
				var p deliverPayload
				if ti.Type != typeDeliver || json.Unmarshal(ti.Payload, &p) != nil {
					continue
				}
				if slices.ContainsFunc(p.Contacts, func(c [2]string) bool { return slices.Contains(users, engine.UserID(c[0])) }) {
					hits = append(hits, hit{ti, p, l.archived})
				}
			}
			if len(ts) < forgetPage {
				break
			}
		}
	}
	for _, h := range hits {
		p := h.payload
		p.Contacts = slices.DeleteFunc(p.Contacts, func(c [2]string) bool { return slices.Contains(users, engine.UserID(c[0])) })
		// An archived task gave up on its contacts; the ledger still holds
		// those not settled, and the sweeper queues them again.
		if len(p.Contacts) > 0 && !h.archived {
			at := h.task.NextProcessAt
			if at.IsZero() {
				at = time.Now()
			}
			if err := s.enqueue(ctx, typeDeliver, p, asynq.Queue(q), asynq.TaskID("dlv:kept:"+batchID(p)),
				asynq.ProcessAt(at), asynq.MaxRetry(20), asynq.Timeout(5*time.Minute)); err != nil {
				return 0, err
			}
		}
		if err := s.inspector.DeleteTask(q, h.task.ID); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			// Most likely running. (The error is not logged: it may quote
			// the task, which names the user.)
			s.log.WarnContext(ctx, "scheduler: a delivery task naming an erased user could not be deleted; it ends when it has run")
		}
	}
	return len(hits), nil
}
