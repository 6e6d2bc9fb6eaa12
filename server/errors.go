package server

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"projectboard/store"
)

// apiError is an error with the status and body the client gets.
type apiError struct {
	Status  int
	Code    string
	Message string
	// MessageZh is the message in Chinese, where there is one (domain rules, file refusals).
	MessageZh string
	Field     string
	// Current is the project as it is now, sent with a 412.
	Current *store.Project
	// CurrentValue is, for a 412 about a report, problem, month or the warning rules, that
	// thing as it is now (sent as "current", with its version as the ETag).
	CurrentValue any
	// stale marks a 412 about one of those: the body has "current" even when it is null (a
	// report named by version that does not exist).
	stale bool
}

func (e *apiError) Error() string { return e.Message }

func errorf(status int, code, field, msg string) *apiError {
	return &apiError{Status: status, Code: code, Field: field, Message: msg}
}

type errorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	MessageZh string `json:"messageZh,omitempty"`
	Field     string `json:"field,omitempty"`
}

type errorBody struct {
	Error   errorDetail    `json:"error"`
	Current *store.Project `json:"current,omitempty"`
}

// staleBody is the 412 body about a report, problem, month or the warning rules.
type staleBody struct {
	Error   errorDetail `json:"error"`
	Current any         `json:"current"`
}

// toAPIError is the one table from errors to statuses.
func toAPIError(err error) *apiError {
	var ae *apiError
	var re *store.RuleError
	var ve *store.ValidationError
	var vm *store.VersionMismatchError
	var uf *unknownFieldError
	var se *syntaxError
	var fe *fiber.Error
	var stale *store.StaleError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &re):
		e := errorf(fiber.StatusUnprocessableEntity, "invalid_value", re.Field, re.Field+" "+re.Message)
		e.MessageZh = re.MessageZh
		return e
	case errors.As(err, &ve):
		code := "invalid_value"
		if ve.Type {
			code = "wrong_type"
		}
		e := errorf(fiber.StatusUnprocessableEntity, code, ve.Field, ve.Field+" "+ve.Message)
		if zh := zhMessage(ve.Message); zh != ve.Message {
			e.MessageZh = zh
		}
		return e
	case errors.As(err, &vm):
		cur := vm.Current
		return &apiError{Status: fiber.StatusPreconditionFailed, Code: "version_mismatch",
			Message: "the project was changed by someone else; reload it and apply your change again", Current: &cur}
	case errors.As(err, &stale):
		return &apiError{Status: fiber.StatusPreconditionFailed, Code: "version_mismatch",
			Message:   "the " + stale.What + " was changed by someone else; reload it and apply your change again",
			MessageZh: staleZh[stale.What] + "已被他人修改，请刷新后重新操作", CurrentValue: stale.Current, stale: true}
	case errors.Is(err, store.ErrMonthClosed):
		return cycleError(fiber.StatusConflict, "month_closed", "", "the month is closed: its figures and reports cannot change",
			"该月已关账，数据和月报不能再修改")
	case errors.Is(err, store.ErrMonthNotEnded):
		return cycleError(fiber.StatusConflict, "month_not_ended", "", "the month has not ended yet and cannot be closed",
			"该月尚未结束，不能关账")
	case errors.Is(err, store.ErrMonthOpen):
		return cycleError(fiber.StatusConflict, "month_open", "", "the month is not closed", "该月未关账")
	case errors.Is(err, store.ErrReportState):
		return cycleError(fiber.StatusConflict, "report_state", "", "the report cannot take this step from where it stands",
			"月报当前状态不允许此操作")
	case errors.Is(err, store.ErrNotInYear):
		return cycleError(fiber.StatusUnprocessableEntity, "invalid_value", "month", "the project is not in that year's list",
			"该项目不在该年度项目库中")
	case errors.As(err, &uf):
		return errorf(fiber.StatusBadRequest, "unknown_field", uf.Field, "unknown field "+uf.Field)
	case errors.As(err, &se):
		return errorf(fiber.StatusBadRequest, "bad_json", "", se.Message)
	case errors.Is(err, store.ErrNotFound):
		return errorf(fiber.StatusNotFound, "not_found", "", "not found")
	case errors.Is(err, store.ErrLastAdmin):
		return errorf(fiber.StatusConflict, "last_admin", "role", store.ErrLastAdmin.Error())
	case errors.Is(err, store.ErrConflict):
		return errorf(fiber.StatusConflict, "conflict", "", "already exists")
	case errors.Is(err, store.ErrForbidden):
		return errorf(fiber.StatusForbidden, "forbidden", "", "you may not make this change")
	case errors.Is(err, store.ErrBadCredentials):
		return errorf(fiber.StatusUnauthorized, "bad_credentials", "", "wrong user name or password")
	case errors.Is(err, store.ErrClusterFull):
		return errorf(fiber.StatusServiceUnavailable, "cluster_full", "", "the cluster's storage (etcd) is full: nothing can be changed until an administrator makes room; reading goes on")
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrClosed):
		return errorf(fiber.StatusServiceUnavailable, "unavailable", "", "the database is unavailable for a moment (a restart, a full disk, or the cluster choosing a leader); try again (with If-Match a retry cannot apply an edit twice)")
	case errors.As(err, &fe):
		// These come from Fiber and fasthttp themselves: a request that could not be parsed,
		// timed out, or was too large. Their messages can quote the request — its headers,
		// cookies and tokens included — so the client gets a fixed text per status instead.
		if fe.Code >= 500 {
			return errorf(fe.Code, "internal", "", "internal error")
		}
		if m, ok := lowLevelErrors[fe.Code]; ok {
			return errorf(fe.Code, m.code, "", m.message)
		}
		return errorf(fe.Code, "error", "", "the request was refused")
	}
	return errorf(fiber.StatusInternalServerError, "internal", "", "internal error")
}

func cycleError(status int, code, field, msg, zh string) *apiError {
	e := errorf(status, code, field, msg)
	e.MessageZh = zh
	return e
}

// staleZh names, in Chinese, what a *store.StaleError is about.
var staleZh = map[string]string{"report": "月报", "problem": "问题", "month": "该月状态", "settings": "预警规则"}

// versionOf is the version of a thing a 412 sends back, for its ETag.
func versionOf(v any) (uint64, bool) {
	switch t := v.(type) {
	case store.Report:
		return t.Version, true
	case *store.Report:
		return t.Version, t != nil
	case store.Problem:
		return t.Version, true
	case *store.Problem:
		return t.Version, t != nil
	case store.MonthState:
		return t.Version, true
	case *store.MonthState:
		return t.Version, t != nil
	case store.WarningRules:
		return t.Version, true
	case *store.WarningRules:
		return t.Version, t != nil
	}
	return 0, false
}

var lowLevelErrors = map[int]struct{ code, message string }{
	400: {"bad_request", "the request could not be parsed"},
	401: {"unauthenticated", "log in first"},
	403: {"forbidden", "forbidden"},
	404: {"not_found", "not found"},
	405: {"method_not_allowed", "this method is not allowed here"},
	408: {"timeout", "the request took too long to arrive"},
	413: {"too_large", "the request body is too large"},
	415: {"unsupported_media_type", "unsupported content type"},
	426: {"upgrade_required", "this address takes websocket connections only"},
	429: {"too_many_requests", "too many requests"},
	431: {"headers_too_large", "the request's headers are too large"},
}

// errorHandler writes every error as the JSON error body. Only 5xx are logged in detail;
// users never see internals. Errors that fasthttp raises before any route or middleware ran
// (a malformed request, a timeout, a body or headers too large) come here too, so it sets the
// security headers itself.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	setSecurityHeaders(c)
	c.Set(fiber.HeaderCacheControl, "no-store")
	ae := toAPIError(err)
	if ae.Status >= 500 {
		s.log.Error("request failed", "method", c.Method(), "path", c.Path(), "status", ae.Status, "err", err)
	}
	detail := errorDetail{Code: ae.Code, Message: ae.Message, MessageZh: ae.MessageZh, Field: ae.Field}
	if ae.Status == fiber.StatusServiceUnavailable {
		c.Set(fiber.HeaderRetryAfter, "1")
	}
	if ae.stale {
		if v, ok := versionOf(ae.CurrentValue); ok {
			c.Set(fiber.HeaderETag, etag(v))
		}
		return c.Status(ae.Status).JSON(staleBody{Error: detail, Current: ae.CurrentValue})
	}
	body := errorBody{Error: detail, Current: ae.Current}
	if ae.Current != nil {
		c.Set(fiber.HeaderETag, etag(ae.Current.Version))
	}
	return c.Status(ae.Status).JSON(body)
}
