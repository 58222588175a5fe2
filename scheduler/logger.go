package scheduler

import (
	"fmt"
	"log/slog"
)

// asynqLogger passes asynq's log lines to slog.
type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug("asynq: " + fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.log.Info("asynq: " + fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn("asynq: " + fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) { l.log.Error("asynq: " + fmt.Sprint(args...)) }

// Fatal is called by asynq only for errors it cannot go on from; heed logs
// them and carries on rather than exit in the middle of a request.
func (l asynqLogger) Fatal(args ...any) { l.log.Error("asynq (fatal): " + fmt.Sprint(args...)) }
