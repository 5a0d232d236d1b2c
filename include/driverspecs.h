/*
 * driverspecs.h - driver-specific annotations (__drv_*), as empty macros.
 */
#ifndef OPENWSK_DRIVERSPECS_H
#define OPENWSK_DRIVERSPECS_H

#include <sal.h>

#define __drv_allocatesMem(kind)
#define __drv_freesMem(kind)
#define __drv_aliasesMem
#define __drv_when(c, a)
#define __drv_maxIRQL(i)
#define __drv_minIRQL(i)
#define __drv_setsIRQL(i)
#define __drv_savesIRQL
#define __drv_restoresIRQL
#define __drv_savesIRQLGlobal(k, p)
#define __drv_restoresIRQLGlobal(k, p)
#define __drv_requiresIRQL(i)
#define __drv_raisesIRQL(i)
#define __drv_sameIRQL
#define __drv_useCancelIRQL
#define __drv_isCancelIRQL
#define __drv_dispatchType(t)
#define __drv_dispatchType_other
#define __drv_completionType(t)
#define __drv_functionClass(c)
#define __drv_acquiresResource(r)
#define __drv_releasesResource(r)
#define __drv_acquiresExclusiveResource(r)
#define __drv_releasesExclusiveResource(r)
#define __drv_mustHold(r)
#define __drv_neverHold(r)
#define __drv_arg(e, a)
#define __drv_in(a)
#define __drv_out(a)
#define __drv_inTry
#define __drv_notInTry
#define __drv_reportError(m)
#define __drv_strictType(t, m)
#define __drv_strictTypeMatch(m)
#define __drv_valueIs(l)
#define __drv_preferredFunction(f, r)
#define __drv_constant
#define __drv_nonConstant
#define __drv_floatUsed
#define __drv_floatSaved
#define __drv_floatRestored
#define __drv_interlocked
#define __drv_inTry
#define __drv_Mode_impl(x)
#define __drv_at(e, a)
#define __drv_formatString(k)
#define __drv_clearDoInit(v)
#define __drv_ret(a)
#define __out_data_source(src)
#define __in_data_source(src)
#define __field_data_source(src)
#define __this_out_data_source(src)

#endif /* OPENWSK_DRIVERSPECS_H */
