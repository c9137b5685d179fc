// Flat config: typescript-eslint's type-aware rules; floating and misused promises are errors because
// this code is all asynchronous IO where a forgotten await loses an error or a status write.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

// What is not the operator: the Milvus emulator package and the local tooling (control plane, demo, benchmark).
const NOT_OPERATOR = ['milvus-refresh-emulator', 'milvus-refresh-emulator/*', '**/packages/**', '**/tools/**'];
// The operator does not load @kubernetes/client-node (its import alone is about 85 MiB RSS, docs/scale.md): its
// Kubernetes client is adapters/kubeconfig.ts and adapters/kube-http.ts. Tools and tests may use it.
const NO_CLIENT_NODE = {
  name: '@kubernetes/client-node',
  message: 'the operator does not load client-node: use adapters/kube-http.ts',
};

export default tseslint.config(
  { ignores: ['**/dist/**', 'dist-tools/**', '**/node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  prettier,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/explicit-module-boundary-types': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-console': 'off',
    },
  },
  {
    // src/ is the operator and nothing else (it is what the image holds): it never imports the emulator or the
    // tools. The pure layers never import IO libraries.
    files: ['src/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: NOT_OPERATOR,
              message: 'operator code must not import the emulator or local tooling',
            },
          ],
          paths: [NO_CLIENT_NODE],
        },
      ],
    },
  },
  {
    files: ['src/api/**', 'src/reconcile/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [...NOT_OPERATOR, '**/adapters/**', '**/runtime/**'],
              message: 'pure layers depend on nothing but api/',
            },
          ],
          paths: [
            { name: '@zilliz/milvus2-sdk-node', message: 'only adapters/ talk to Milvus' },
            { name: 'winston', message: 'depend on the Logger interface' },
            NO_CLIENT_NODE,
          ],
        },
      ],
    },
  },
  {
    // The runtime drives ports; only the manager, which wires everything, knows the adapters.
    files: ['src/runtime/**'],
    ignores: ['src/runtime/manager.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [...NOT_OPERATOR, '**/adapters/**'],
              message: 'runtime/ depends on reconcile/ ports; only manager.ts wires adapters',
            },
          ],
          paths: [NO_CLIENT_NODE],
        },
      ],
    },
  },
  {
    files: ['test/**', 'packages/*/test/**', '**/*.test.ts'],
    rules: {
      '@typescript-eslint/explicit-module-boundary-types': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
