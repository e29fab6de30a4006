package fsm

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/scaleout/scaleout/catalog"
)

// The operations log: OperationRequest wraps a command people asked for;
// its applier applies the command and appends, in the same transaction,
// one catalog.Operation per change the command made (one per item of a
// coalesced command, each with its own caller).

func init() {
	register(OperationType, applyOperation)
	describe(FolderCreateType, func(r *FolderCreateRequest) []opItem { return one("create_folder", r.Name) })
	describe(FolderRenameType, func(r *FolderRenameRequest) []opItem { return one("rename_folder", r.Name+" -> "+r.NewName) })
	describe(FolderDeleteType, func(r *FolderDeleteRequest) []opItem { return one("delete_folder", r.Name) })
	describe(ProjectDeployType, func(r *ProjectDeployRequest) []opItem {
		return one("deploy_project", r.Version.Folder+"/"+r.Version.Project)
	})
	describe(ProjectRestoreType, func(r *ProjectRestoreRequest) []opItem {
		return one("restore_project", fmt.Sprintf("%s/%s version %d", r.Folder, r.Project, r.Version))
	})
	describe(ProjectDeleteType, func(r *ProjectDeleteRequest) []opItem { return one("delete_project", r.Folder+"/"+r.Project) })
	describe(ProjectSetValueType, func(r *ProjectSetValueRequest) []opItem {
		return one("set_parameter_value", r.Folder+"/"+r.Project+" "+r.Value.Name)
	})
	describe(ProjectEnvRefType, func(r *ProjectEnvRefRequest) []opItem {
		return one("set_environment_reference", r.Folder+"/"+r.Project+" "+r.Ref.String())
	})
	describe(EnvironmentCreateType, func(r *EnvironmentCreateRequest) []opItem {
		return one("create_environment", r.Folder+"/"+r.Name)
	})
	describe(EnvironmentDeleteType, func(r *EnvironmentDeleteRequest) []opItem {
		return one("delete_environment", r.Folder+"/"+r.Name)
	})
	describe(EnvironmentSetVariableType, func(r *EnvironmentSetVariableRequest) []opItem {
		kind := "set_environment_variable"
		if r.Remove {
			kind = "delete_environment_variable"
		}
		return one(kind, r.Folder+"/"+r.Environment+" "+r.Variable.Name)
	})
	describe(ExecutionSubmitType, describeSubmit)
	describe(ExecutionStopsType, func(r *ExecutionStopsRequest) []opItem {
		out := make([]opItem, len(r.Items))
		for i, it := range r.Items {
			out[i] = opItem{kind: "stop_execution", object: execObject(it.ID), caller: it.Caller, item: i}
		}
		return out
	})
	describe(ExecutionStartType, func(r *ExecutionStartRequest) []opItem {
		out := make([]opItem, len(r.Items))
		for i, it := range r.Items {
			out[i] = opItem{kind: "start_execution", object: execObject(it.ID), caller: it.Caller, item: i}
		}
		return out
	})
	describe(ExecutionSetSpecType, func(r *ExecutionSetSpecRequest) []opItem { return one("set_execution_values", execObject(r.ID)) })
	describe(CapSetType, func(r *CapSetRequest) []opItem { return one("set_cap", r.Setting.Key()) })
	describe(SchedulePutType, func(r *SchedulePutRequest) []opItem { return one("put_schedule", r.Schedule.Name) })
	describe(ScheduleDeleteType, func(r *ScheduleDeleteRequest) []opItem { return one("delete_schedule", r.Name) })
	describe(SchedulePauseType, func(r *SchedulePauseRequest) []opItem {
		return one(map[bool]string{true: "pause_schedule", false: "resume_schedule"}[r.Paused], r.Name)
	})
	describe(WorkerEnableType, func(r *WorkerEnableRequest) []opItem {
		return one(map[bool]string{true: "enable_worker", false: "disable_worker"}[r.Enabled], "worker "+r.ID)
	})
	describe(WorkerRemoveType, func(r *WorkerRemoveRequest) []opItem { return one("remove_worker", "worker "+r.ID) })
	describe(WorkerApproveType, func(r *WorkerApproveRequest) []opItem { return one("approve_worker", "worker "+r.ID) })
	describe(ACLBootstrapType, func(r *ACLBootstrapRequest) []opItem { return one("acl_bootstrap", "token "+r.Token.Name) })
	describe(ACLTokenCreateType, func(r *ACLTokenCreateRequest) []opItem { return one("create_token", "token "+r.Token.Name) })
	describe(ACLTokenRevokeType, func(r *ACLTokenRevokeRequest) []opItem { return one("revoke_token", "token "+r.ID) })
	describe(SettingSetType, func(r *SettingSetRequest) []opItem { return one("set_setting", r.Name+"="+r.Value) })
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func execObject(id uint64) string { return "execution " + strconv.FormatUint(id, 10) }

// opItem is one operation a command makes: item is the index of its item
// in a multi-item command (-1: the command as a whole); caller, if set,
// overrides the OperationRequest's.
type opItem struct {
	kind, object, caller string
	item                 int
	submit               bool // the object gains the execution id the response gives
}

func one(kind, object string) []opItem { return []opItem{{kind: kind, object: object, item: -1}} }

var describers = map[MessageType]func(buf []byte) ([]opItem, error){}

// describe registers how a command of type t appears in the operations log.
func describe[T any](t MessageType, fn func(req *T) []opItem) {
	if _, dup := describers[t]; dup {
		panic(fmt.Sprintf("fsm: describer for %s registered twice", t))
	}
	describers[t] = func(buf []byte) ([]opItem, error) {
		var req T
		if err := Decode(buf, &req); err != nil {
			return nil, err
		}
		return fn(&req), nil
	}
}

// Logged reports whether commands of type t are recorded in the
// operations log (wrapped in an OperationRequest).
func Logged(t MessageType) bool {
	_, ok := describers[t]
	return ok
}

// maxOpText bounds the object and caller of an operation.
const maxOpText = 512

func clip(s string) string {
	if len(s) > maxOpText {
		return s[:maxOpText]
	}
	return s
}

func applyOperation(tx *catalog.Tx, req *OperationRequest) any {
	base := catalog.Operation{Caller: clip(req.Caller), Time: req.Time}
	if req.Type == 0 {
		if strings.TrimSpace(req.Kind) == "" {
			return fmt.Errorf("%w: operation without a command names no kind", catalog.ErrInvalid)
		}
		op := base
		op.Type, op.Object, op.Result = clip(req.Kind), clip(req.Object), "succeeded"
		return storeResult(tx.AppendOperation(&op, req.PruneBefore))
	}
	describe, ok := describers[req.Type]
	if !ok {
		return fmt.Errorf("%w: command %s is not one the operations log wraps", catalog.ErrInvalid, req.Type)
	}
	inner := make([]byte, 1, 1+len(req.Payload))
	inner[0] = byte(req.Type)
	inner = append(inner, req.Payload...)
	items, err := describe(inner)
	if err != nil {
		return fmt.Errorf("%w: undecodable %s command: %v", catalog.ErrInvalid, req.Type, err)
	}
	resp := appliers[req.Type](tx, inner)
	if _, fatal := resp.(fatalError); fatal {
		return resp
	}
	for _, it := range items {
		op := base
		op.Type, op.Object = it.kind, clip(it.object)
		if it.caller != "" {
			op.Caller = clip(it.caller)
		}
		var ierr error
		switch r := resp.(type) {
		case error:
			ierr = r
		case *ItemsResponse:
			ierr = r.Err(it.item)
		case *SubmitResponse:
			ierr = r.Err(it.item)
			if it.submit && it.item < len(r.IDs) && r.IDs[it.item] != 0 {
				op.Object = clip(execObject(r.IDs[it.item]) + " " + it.object)
			}
		}
		op.Result = "succeeded"
		if ierr != nil {
			op.Result = clip("failed: " + ierr.Error())
		}
		if err := tx.AppendOperation(&op, req.PruneBefore); err != nil {
			return fatalError{err}
		}
	}
	return resp
}

// describeSubmit lists the executions a submission creates.
func describeSubmit(r *ExecutionSubmitRequest) []opItem {
	out := make([]opItem, len(r.Executions))
	for i, e := range r.Executions {
		obj := e.PackageName
		if e.Folder != "" {
			obj = e.Folder + "/" + e.Project + "/" + e.PackageName
		}
		out[i] = opItem{kind: "create_execution", object: obj, caller: cmp(e.Caller, r.Caller), item: i, submit: true}
	}
	return out
}
