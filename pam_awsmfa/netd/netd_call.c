/* One request carried out: see netd_call.h. */
#include <string.h>

#include <openssl/crypto.h>

#include "aws/dynamodb.h"
#include "aws/kms.h"
#include "log.h"
#include "netd_call.h"
#include "secure_file.h"

static const char *const op_names[] = {
	[AMFA_BROKER_DDB_GET] = "GetItem",
	[AMFA_BROKER_DDB_UPDATE] = "UpdateItem",
	[AMFA_BROKER_DDB_DELETE] = "DeleteItem",
	[AMFA_BROKER_KMS_GENERATE] = "GenerateDataKey",
	[AMFA_BROKER_KMS_DECRYPT] = "Decrypt",
};

void
amfa_netd_call(const struct amfa_broker_request *rq,
    struct amfa_broker_answer *a)
{
	const struct amfa_ddb_config *c = &rq->c;
	struct amfa_ddb_item *item = NULL;

	memset(a, 0, sizeof(*a));
	switch (rq->op) {
	case AMFA_BROKER_DDB_GET:
		a->result = amfa_ddb_get_item(c, &rq->key, &a->item, &a->err);
		a->has_item = a->result == AMFA_DDB_OK;
		break;
	case AMFA_BROKER_DDB_UPDATE:
		if (rq->want_item)
			item = &a->item;
		a->result = amfa_ddb_update_item(c, &rq->key, rq->update,
		    rq->condition, rq->values, rq->nvalues, item, &a->err);
		a->has_item = item != NULL && a->result == AMFA_DDB_OK;
		break;
	case AMFA_BROKER_DDB_DELETE:
		a->result = amfa_ddb_delete_item(c, &rq->key, rq->condition,
		    rq->values, rq->nvalues, &a->err);
		break;
	case AMFA_BROKER_KMS_GENERATE:
		a->result = amfa_kms_generate_data_key(c, rq->key_id, &rq->ctx,
		    a->key, &a->blob_b64, &a->err);
		a->has_key = a->result == AMFA_DDB_OK;
		break;
	case AMFA_BROKER_KMS_DECRYPT:
		a->result = amfa_kms_decrypt(c, rq->key_id, &rq->ctx,
		    rq->blob_b64, a->key, &a->err);
		a->has_key = a->result == AMFA_DDB_OK;
		break;
	default:
		a->result = AMFA_DDB_INTERNAL;
		return;
	}
	amfa_debug("%s %s: %s (%d tries)", op_names[rq->op],
	    rq->c.table != NULL ? rq->c.table : rq->c.endpoint,
	    amfa_ddb_result_str(a->result), a->err.tries);
}

void
amfa_netd_answer_free(struct amfa_broker_answer *a)
{
	amfa_ddb_item_free(&a->item);
	if (a->blob_b64 != NULL)
		amfa_wipe_free_str(a->blob_b64);
	a->blob_b64 = NULL;
	OPENSSL_cleanse(a->key, sizeof(a->key));
}
