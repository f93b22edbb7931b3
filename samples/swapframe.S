/*
 * swapframe.S - libswap_big.so and libswap_small.so for samples/dlswap.c
 *
 * swap_alloc(n) returns malloc(n) from a frame of FRAME_BYTES (8,200 or 264): the two builds
 * have the same instructions at the same offsets (sub and add take a 32-bit immediate either
 * way), so loaded at one address they differ only in their unwind rule. FRAME_BYTES is 8 mod 16
 * so that the stack is 16-aligned at the call.
 */
	.text
	.globl	swap_alloc
	.type	swap_alloc, @function
swap_alloc:
	.cfi_startproc
	subq	$FRAME_BYTES, %rsp
	.cfi_def_cfa_offset FRAME_BYTES + 8
	call	malloc@PLT
	addq	$FRAME_BYTES, %rsp
	.cfi_def_cfa_offset 8
	ret
	.cfi_endproc
	.size	swap_alloc, .-swap_alloc

	.section .note.GNU-stack,"",@progbits
