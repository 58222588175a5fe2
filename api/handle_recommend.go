package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"heed/engine"
	"heed/recommend"
)

type recommender interface {
	Recommend(ctx context.Context, id engine.UserID, q engine.RecQuery) (engine.RecResult, error)
}

// recQuery reads the list parameters common to every recommendation route.
func recQuery(c *gin.Context, strategy engine.Strategy) (engine.RecQuery, error) {
	limit, err := queryInt(c, "limit", 10)
	if err != nil {
		return engine.RecQuery{}, err
	}
	if limit < 1 {
		return engine.RecQuery{}, engine.Invalid("limit", "must be between 1 and %d", engine.MaxRecLimit)
	}
	if s := c.Query("strategy"); s != "" {
		strategy = engine.Strategy(s)
	}
	return engine.RecQuery{Strategy: strategy, Item: engine.ItemID(c.Query("item_id")),
		Touchpoint: engine.Touchpoint(c.Query("touchpoint")), AvailableIn: c.Query("region"), Limit: limit}, nil
}

// handleRecommend returns a list for a shopper:
// GET /v1/users/:id/recommendations?strategy=&item_id=&touchpoint=&region=&limit=.
func handleRecommend(s recommender) gin.HandlerFunc {
	return func(c *gin.Context) {
		q, err := recQuery(c, engine.StrategyForYou)
		if err != nil {
			fail(c, err)
			return
		}
		res, err := s.Recommend(c.Request.Context(), userID(c), q)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, res)
	}
}

type itemLister interface {
	ItemList(ctx context.Context, item engine.ItemID, q engine.RecQuery) (engine.RecResult, error)
}

// handleItemList returns a non-personalized list about an item:
// GET /v1/items/:id/similar and /v1/items/:id/complementary.
func handleItemList(s itemLister, strategy engine.Strategy) gin.HandlerFunc {
	return func(c *gin.Context) {
		q, err := recQuery(c, strategy)
		if err != nil {
			fail(c, err)
			return
		}
		q.Strategy = strategy
		res, err := s.ItemList(c.Request.Context(), engine.ItemID(c.Param("id")), q)
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, res)
	}
}

// ModelInfo describes the recommender model in use.
type ModelInfo struct {
	Trained      bool      `json:"trained"`
	TrainedAt    time.Time `json:"trained_at,omitzero"`
	Users        int       `json:"users"`
	Items        int       `json:"items"`
	Interactions int       `json:"interactions"`
	Factors      int       `json:"factors"`
	Iterations   int       `json:"iterations"`
	// Seconds is the whole training run; PerIteration one ALS sweep, on average.
	Seconds      float64 `json:"seconds"`
	PerIteration float64 `json:"seconds_per_iteration"`
}

// A Trainer trains the recommender's model and swaps it in.
type Trainer interface {
	Train(ctx context.Context) (ModelInfo, error)
	Model() ModelInfo
}

// TrainerOf serves the recommender routes with t.
func TrainerOf(t *recommend.Trainer) Trainer { return recTrainer{t} }

type recTrainer struct{ t *recommend.Trainer }

func (r recTrainer) Train(ctx context.Context) (ModelInfo, error) {
	st, err := r.t.Train(ctx)
	if err != nil {
		return ModelInfo{}, err
	}
	return modelInfo(st), nil
}

func (r recTrainer) Model() ModelInfo {
	if m := r.t.Live.Model(); m != nil {
		return modelInfo(m.Stats())
	}
	return ModelInfo{}
}

func modelInfo(st recommend.Stats) ModelInfo {
	return ModelInfo{Trained: true, TrainedAt: st.TrainedAt, Users: st.Users, Items: st.Items,
		Interactions: st.Interactions, Factors: st.Factors, Iterations: st.Iterations,
		Seconds: st.Took.Seconds(), PerIteration: st.PerIteration.Seconds()}
}

// handleTrain trains a new model now and answers when it is in use:
// POST /v1/recommender/train.
func handleTrain(t Trainer) gin.HandlerFunc {
	return func(c *gin.Context) {
		if t == nil {
			fail(c, fmt.Errorf("%w: this server does not train models", engine.ErrUnavailable))
			return
		}
		info, err := t.Train(c.Request.Context())
		if err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, info)
	}
}

// handleModel describes the model in use: GET /v1/recommender.
func handleModel(t Trainer) gin.HandlerFunc {
	return func(c *gin.Context) {
		if t == nil {
			c.JSON(http.StatusOK, ModelInfo{})
			return
		}
		c.JSON(http.StatusOK, t.Model())
	}
}
