/*
 * sal.h - Microsoft source annotation language, as empty macros.
 *
 * Driver sources are full of SAL annotations; gcc and clang have no use for
 * them, so every annotation (plain and function-like) expands to nothing.
 * _Analysis_assume_ is a statement in driver code, so it expands to a no-op
 * expression.
 */
#ifndef OPENWSK_SAL_H
#define OPENWSK_SAL_H

#define _In_
#define _In_opt_
#define _In_z_
#define _In_opt_z_
#define _Out_
#define _Out_opt_
#define _Inout_
#define _Inout_opt_
#define _Inout_z_
#define _Outptr_
#define _Outptr_opt_
#define _Outptr_result_maybenull_
#define _Outptr_result_buffer_(s)
#define _Outptr_result_bytebuffer_(s)
#define _Deref_out_
#define _Deref_out_opt_
#define _Must_inspect_result_
#define _Check_return_
#define _Ret_maybenull_
#define _Ret_notnull_
#define _Ret_range_(l, h)
#define _Reserved_
#define _Use_decl_annotations_
#define _Inexpressible_(x)
#define _Null_terminated_
#define _NullNull_terminated_
#define _Frees_ptr_
#define _Frees_ptr_opt_
#define _Post_maybenull_
#define _Post_invalid_
#define _Post_valid_
#define _Post_writable_byte_size_(s)
#define _Pre_notnull_
#define _Pre_maybenull_
#define _Pre_valid_
#define _Notnull_
#define _Maybenull_
#define _Printf_format_string_
#define _Field_range_(l, h)
#define _Field_z_
#define _Field_size_(s)
#define _Field_size_opt_(s)
#define _Field_size_bytes_(s)
#define _Field_size_bytes_opt_(s)
#define _Field_size_part_(s, c)
#define _Field_size_bytes_part_(s, c)
#define _Field_size_bytes_part_opt_(s, c)
#define _In_range_(l, h)
#define _Out_range_(l, h)
#define _In_reads_(s)
#define _In_reads_opt_(s)
#define _In_reads_bytes_(s)
#define _In_reads_bytes_opt_(s)
#define _In_reads_z_(s)
#define _Out_writes_(s)
#define _Out_writes_opt_(s)
#define _Out_writes_z_(s)
#define _Out_writes_bytes_(s)
#define _Out_writes_bytes_opt_(s)
#define _Out_writes_to_(s, c)
#define _Out_writes_to_opt_(s, c)
#define _Out_writes_bytes_to_(s, c)
#define _Out_writes_bytes_to_opt_(s, c)
#define _Out_writes_bytes_all_(s)
#define _Out_writes_bytes_all_opt_(s)
#define _Inout_updates_(s)
#define _Inout_updates_opt_(s)
#define _Inout_updates_bytes_(s)
#define _Inout_updates_bytes_opt_(s)
#define _When_(c, a)
#define _At_(t, a)
#define _At_buffer_(t, i, c, a)
#define _Success_(e)
#define _Return_type_success_(e)
#define _Analysis_assume_(e) ((void)0)
#define _Analysis_noreturn_
#define _Function_class_(n)
#define _Dispatch_type_(t)
#define _Kernel_float_saved_
#define _Kernel_float_restored_
#define _Kernel_clear_do_init_(x)
#define _Kernel_requires_resource_held_(x)
#define _Kernel_releases_resource_(x)
#define _Kernel_acquires_resource_(x)
#define _IRQL_requires_(i)
#define _IRQL_requires_max_(i)
#define _IRQL_requires_min_(i)
#define _IRQL_requires_same_
#define _IRQL_raises_(i)
#define _IRQL_saves_
#define _IRQL_restores_
#define _IRQL_saves_global_(k, p)
#define _IRQL_restores_global_(k, p)
#define _IRQL_always_function_max_(i)
#define _IRQL_always_function_min_(i)
#define _IRQL_uses_cancel_
#define _IRQL_is_cancel_
#define _Acquires_lock_(l)
#define _Releases_lock_(l)
#define _Requires_lock_held_(l)
#define _Requires_lock_not_held_(l)
#define _Acquires_shared_lock_(l)
#define _Acquires_exclusive_lock_(l)
#define _Releases_shared_lock_(l)
#define _Releases_exclusive_lock_(l)
#define _Guarded_by_(l)
#define _Interlocked_
#define _Interlocked_operand_
#define _Requires_exclusive_lock_held_(l)
#define _Requires_shared_lock_held_(l)
#define _Has_lock_kind_(k)
#define _Lock_kind_spin_lock_
#define _Create_lock_level_(n)
#define _Literal_
#define _Strict_type_match_
#define _Points_to_data_
#define _Unchanged_(e)
#define _Pre_satisfies_(e)
#define _Post_satisfies_(e)
#define _Post_equal_to_(e)
#define _Struct_size_bytes_(s)
#define _Writable_bytes_(s)
#define _Readable_bytes_(s)
#define _Always_(a)
#define _Ret_writes_bytes_maybenull_(s)
#define _Ret_z_
#define _Ret_maybenull_z_
#define _Deref_post_maybenull_
#define _Deref_pre_maybenull_
#define _Deref_in_range_(l, h)
#define _Deref_out_range_(l, h)

/* Older (SAL 1) spellings still common in driver code. */
#define __in
#define __in_opt
#define __out
#define __out_opt
#define __inout
#define __inout_opt
#define __deref_out
#define __deref_out_opt
#define __in_bcount(s)
#define __in_bcount_opt(s)
#define __out_bcount(s)
#define __out_bcount_opt(s)
#define __in_ecount(s)
#define __out_ecount(s)
#define __checkReturn
#define __reserved
#define __format_string
#define __nullterminated
#define __callback
#define __success(e)

#endif /* OPENWSK_SAL_H */
