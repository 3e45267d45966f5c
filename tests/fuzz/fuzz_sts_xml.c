/*
 * The STS answer: amfa_aws_xml_parse on arbitrary bytes, then every lookup
 * the module makes on a parsed answer (the credentials of
 * GetSessionToken, the request id, the caller identity) and the error
 * extraction, into small and large buffers.
 */
#include "aws/aws_query.h"
#include "fuzz_common.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
		"GetSessionTokenResult/Credentials/AccessKeyId",
		"GetSessionTokenResult/Credentials/SecretAccessKey",
		"GetSessionTokenResult/Credentials/SessionToken",
		"GetSessionTokenResult/Credentials/Expiration",
		"GetCallerIdentityResult/Arn",
		"ResponseMetadata/RequestId",
		"RequestId",
		"Error/Code",
		"",
	};
	char code[64], message[256], tiny[1], tiny2[2];
	xmlDocPtr doc;
	char *t;

	if ((doc = amfa_aws_xml_parse((const char *)data, size)) == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if ((t = amfa_aws_xml_text(doc, paths[i])) != NULL)
			free(t);
	}
	if (amfa_aws_xml_error(doc, code, sizeof(code), message,
		sizeof(message)) == 0 &&
	    (code[0] == '\0' || memchr(code, '\0', sizeof(code)) == NULL ||
		memchr(message, '\0', sizeof(message)) == NULL))
		abort();
	(void)amfa_aws_xml_error(doc, tiny, sizeof(tiny), tiny2, sizeof(tiny2));
	amfa_aws_xml_free(doc);
	return 0;
}
