/* The YubiKey path of `awsmfa enroll --yubikey' (enroll_yubikey.c). */
#ifndef AMFA_ADMIN_ENROLL_YUBIKEY_H
#define AMFA_ADMIN_ENROLL_YUBIKEY_H

#include "admin.h"
#include "enroll_steps.h"

int adm_enroll_yubikey(struct adm_ctx *ctx, const struct adm_enroll_opts *o);

#endif
